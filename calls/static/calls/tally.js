// A caller's counter on the campaign's page: their calls and the team's, live over the websocket,
// and the leaderboard where the organisation shows one.
(function () {
  "use strict";
  var tally = document.getElementById("tally");
  if (!tally || !window.WebSocket) return;
  var mine = tally.querySelector("[data-mine]");
  var team = tally.querySelector("[data-team]");
  var board = document.querySelector("[data-leaderboard]");
  var socket = null;

  function showBoard(rows) {
    if (!board || !rows) return;
    board.textContent = "";
    rows.forEach(function (row) {
      var item = document.createElement("li");
      item.textContent = row.name + ": " + row.calls;
      board.appendChild(item);
    });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + tally.dataset.socket);
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "stats") {
        team.textContent = frame.calls;
        if (frame.mine !== undefined) mine.textContent = frame.mine;
        showBoard(frame.leaderboard);
        tally.dataset.live = "1";
      } else if (frame.type === "call") {
        team.textContent = parseInt(team.textContent, 10) + 1 || 1;
        if (frame.mine) mine.textContent = parseInt(mine.textContent, 10) + 1;
      }
    };
    socket.onclose = function (event) {
      tally.dataset.live = "";
      if (event.code !== 4404 && event.code !== 4401) window.setTimeout(connect, 5000);
    };
  }
  connect();
  window.setInterval(function () {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "refresh" }));
  }, 30000);
})();
