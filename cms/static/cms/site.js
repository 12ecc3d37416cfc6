// The campaign site's only script: live petition counters. Each [data-counter] listens on the
// petition's socket; while the socket is down it reconnects with a growing delay and, meanwhile,
// asks the count over HTTP every 30 seconds. Without JavaScript the count is the one in the page.
(function () {
  "use strict";

  var POLL_MS = 30000;
  var MAX_DELAY_MS = 60000;

  function show(counter, count) {
    if (typeof count !== "number" || !isFinite(count)) return;
    var text = counter.querySelector("[data-count]");
    if (text) text.textContent = String(count);
    var section = counter.closest(".counter") || counter.parentNode;
    var progress = section && section.querySelector("progress");
    if (progress) {
      progress.value = Math.min(count, Number(progress.max) || count);
      progress.textContent = count + " / " + progress.max;
    }
  }

  function watch(counter) {
    var page = counter.getAttribute("data-page");
    if (!/^\d+$/.test(page || "")) return;
    var socketUrl = (location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + "/ws/site/petition/" + page + "/";
    var pollUrl = "/site/petition/" + page + "/count/";
    var delay = 1000;
    var pollTimer = null;

    function poll() {
      fetch(pollUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data) show(counter, data.count); })
        .catch(function () {});
    }

    function startPolling() {
      if (pollTimer === null) {
        poll();
        pollTimer = window.setInterval(poll, POLL_MS);
      }
    }

    function stopPolling() {
      if (pollTimer !== null) {
        window.clearInterval(pollTimer);
        pollTimer = null;
      }
    }

    function connect() {
      var socket;
      try {
        socket = new WebSocket(socketUrl);
      } catch (error) {
        startPolling();
        return;
      }
      socket.addEventListener("open", function () {
        delay = 1000;
        stopPolling();
      });
      socket.addEventListener("message", function (event) {
        var frame;
        try {
          frame = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        if (frame && frame.type === "counter") show(counter, frame.count);
      });
      socket.addEventListener("close", function (event) {
        if (event.code === 4404) return; // the petition is no longer published: nothing to follow
        startPolling();
        // Up to a third of the delay at random, so that a restarted server is not hit by every
        // visitor at the same instant.
        window.setTimeout(connect, delay + Math.random() * delay / 3);
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      });
    }

    if ("WebSocket" in window) {
      connect();
    } else {
      startPolling();
    }
  }

  function start() {
    var counters = document.querySelectorAll("[data-counter]");
    for (var i = 0; i < counters.length; i++) watch(counters[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
