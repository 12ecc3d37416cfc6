// A mailing's progress, live: counts pushed over the websocket while it sends.
(function () {
  "use strict";
  var section = document.getElementById("mailing-progress");
  if (!section || !window.WebSocket) return;
  var bar = document.getElementById("mailing-bar");
  function show(frame) {
    ["total", "sent", "failed", "unknown", "cancelled", "remaining"].forEach(function (key) {
      var cell = section.querySelector('[data-count="' + key + '"]');
      if (cell && frame[key] !== undefined) cell.textContent = frame[key];
    });
    bar.max = Math.max(frame.total, 1);
    bar.value = frame.sent + frame.failed + frame.unknown + frame.cancelled;
    bar.dataset.status = frame.status;
  }
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var socket = new WebSocket(scheme + location.host + section.dataset.socket);
  socket.onmessage = function (event) {
    var frame = JSON.parse(event.data);
    if (frame.type === "progress") show(frame);
  };
})();
