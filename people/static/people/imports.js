// The progress of a running import, polled from its JSON endpoint; the page reloads at the end
// to show the report. Without JavaScript the page refreshes itself (<noscript> meta refresh).
(function () {
  "use strict";
  var section = document.getElementById("import-progress");
  if (!section) return;
  var url = section.getAttribute("data-progress-url");
  var bar = section.querySelector("progress");

  function show(progress) {
    bar.value = progress.percent;
    bar.textContent = progress.percent + " %";
    section.querySelectorAll("[data-field]").forEach(function (element) {
      var value = progress[element.getAttribute("data-field")];
      element.textContent = value === null || value === undefined ? "…" : String(value);
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 500);
})();
