// A mailing's progress, live: counts pushed over the websocket while it sends, and asked for
// every few seconds too (a frame lost while the socket was joining, or a socket that closed,
// is made up for). Once the mailing is sent or cancelled the page says so and stops.
(function () {
  "use strict";
  var section = document.getElementById("mailing-progress");
  if (!section) return;
  var bar = document.getElementById("mailing-bar");
  var statusCell = document.getElementById("mailing-status");
  var cancel = document.getElementById("mailing-cancel");
  var labels = JSON.parse(document.getElementById("mailing-status-labels").textContent);
  var finished = { sent: true, cancelled: true };
  var socket = null;
  var timer = null;

  function show(frame) {
    ["total", "sent", "failed", "unknown", "cancelled", "remaining"].forEach(function (key) {
      var cell = section.querySelector('[data-count="' + key + '"]');
      if (cell && frame[key] !== undefined) cell.textContent = frame[key];
    });
    bar.max = Math.max(frame.total, 1);
    bar.value = frame.sent + frame.failed + frame.unknown + frame.cancelled;
    bar.dataset.status = frame.status;
    section.dataset.status = frame.status;
    if (statusCell && labels[frame.status]) statusCell.textContent = labels[frame.status];
    if (finished[frame.status]) {
      if (cancel) cancel.hidden = true;
      if (timer) window.clearInterval(timer);
      if (socket) socket.close();
    }
  }

  function ask() {
    fetch(section.dataset.counts, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (frame) { if (frame) show(frame); })
      .catch(function () {});
  }

  if (finished[section.dataset.status]) return;
  if (window.WebSocket) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + section.dataset.socket);
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "progress") show(frame);
    };
  }
  timer = window.setInterval(ask, 5000);
})();
