// The organisers' dashboard, live: each call recorded arrives over the websocket and moves the
// figures at once; the full figures are asked for again every 20 seconds (and on reconnecting),
// which also brings the pace and the callers active back in step.
(function () {
  "use strict";
  var board = document.getElementById("dashboard");
  if (!board || !window.WebSocket) return;
  var state = document.getElementById("live-state");
  var socket = null;
  var recent = []; // times of the calls seen in the last minute
  var callers = {}; // caller id -> when their last call was seen

  function set(name, value) {
    var cell = board.querySelector('[data-figure="' + name + '"]');
    if (cell) cell.textContent = value;
  }
  function bump(cell) {
    if (cell) cell.textContent = (parseInt(cell.textContent, 10) || 0) + 1;
  }
  function progress(done, total) {
    var bar = board.querySelector("[data-progress]");
    bar.max = Math.max(total, 1);
    bar.value = done;
  }

  function showStats(frame) {
    ["calls", "callers_now", "done", "targets"].forEach(function (name) { set(name, frame[name]); });
    set("per_minute", frame.last_minute);
    progress(frame.done, frame.targets);
    Object.keys(frame.outcomes || {}).forEach(function (outcome) {
      var cell = board.querySelector('[data-outcome="' + outcome + '"]');
      if (cell) cell.textContent = frame.outcomes[outcome];
    });
    Object.keys(frame.answers || {}).forEach(function (question) {
      var section = board.querySelector('[data-question="' + question + '"]');
      if (!section) return;
      section.querySelectorAll("[data-answer]").forEach(function (cell) {
        cell.textContent = frame.answers[question][cell.dataset.answer] || 0;
      });
    });
    Object.keys(frame.texts || {}).forEach(function (question) {
      var cell = board.querySelector('[data-question="' + question + '"] [data-text-count]');
      if (cell) cell.textContent = frame.texts[question];
    });
    var list = board.querySelector("[data-leaderboard]");
    if (list && frame.leaderboard) {
      list.textContent = "";
      frame.leaderboard.forEach(function (row) {
        var item = document.createElement("li");
        item.textContent = row.name + ": " + row.calls;
        list.appendChild(item);
      });
      if (!frame.leaderboard.length) {
        var empty = document.createElement("li");
        empty.className = "muted";
        empty.textContent = list.dataset.empty;
        list.appendChild(empty);
      }
    }
    recent = [];
    callers = {};
  }

  function showCall(frame) {
    bump(board.querySelector('[data-figure="calls"]'));
    bump(board.querySelector('[data-outcome="' + frame.outcome + '"]'));
    var now = Date.now();
    recent.push(now);
    recent = recent.filter(function (at) { return now - at < 60000; });
    var pace = board.querySelector('[data-figure="per_minute"]');
    pace.textContent = Math.max(parseInt(pace.textContent, 10) || 0, recent.length);
    Object.keys(frame.answers || {}).forEach(function (question) {
      var value = frame.answers[question];
      var key = value === true ? "yes" : value === false ? "no" : String(value);
      bump(board.querySelector('[data-question="' + question + '"] [data-answer="' + CSS.escape(key) + '"]'));
    });
    // Written answers come without their text: only which questions were answered.
    (frame.answered || []).forEach(function (question) {
      bump(board.querySelector('[data-question="' + question + '"] [data-text-count]'));
    });
    if (frame.done) {
      bump(board.querySelector('[data-figure="done"]'));
      var bar = board.querySelector("[data-progress]");
      bar.value = bar.value + 1;
    }
    callers[frame.caller] = now;
    var active = Object.keys(callers).filter(function (id) { return now - callers[id] < 300000; }).length;
    var shown = board.querySelector('[data-figure="callers_now"]');
    shown.textContent = Math.max(parseInt(shown.textContent, 10) || 0, active);
    board.dataset.calls = (parseInt(board.dataset.calls, 10) || 0) + 1;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + board.dataset.socket);
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "stats") {
        showStats(frame);
        board.dataset.live = "1";
        state.textContent = state.dataset.liveText;
      } else if (frame.type === "call") {
        showCall(frame);
      }
    };
    socket.onclose = function (event) {
      board.dataset.live = "";
      if (event.code !== 4404 && event.code !== 4401) window.setTimeout(connect, 5000);
    };
  }
  connect();
  window.setInterval(function () {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "refresh" }));
  }, 20000);
})();
