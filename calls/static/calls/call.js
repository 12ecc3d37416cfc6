// The call page: keeps the caller's hold on the person while the page is open (a heartbeat every
// few tens of seconds; the server lets the person go if it stops), says so at once if the hold was
// lost, and shows "call back at" only when that outcome is chosen.
(function () {
  "use strict";
  var page = document.getElementById("call");
  if (!page) return;
  var lost = document.getElementById("call-lost");
  var callBack = document.getElementById("call-back");
  var csrf = document.querySelector("#result input[name=csrfmiddlewaretoken]");
  var every = (parseInt(page.dataset.keepSeconds, 10) || 60) * 1000;

  function keep() {
    if (document.hidden) return; // a hidden tab renews when it shows again
    fetch(page.dataset.keep, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.value : "", Accept: "application/json" },
    })
      .then(function (answer) {
        if (answer.status === 409) {
          lost.textContent = page.dataset.lost;
          lost.hidden = false;
          page.dataset.lease = "lost";
        } else if (answer.ok) {
          page.dataset.lease = "held";
        }
      })
      .catch(function () {});
  }

  function showCallBack() {
    var chosen = document.querySelector("input[name=outcome]:checked");
    var on = chosen && chosen.value === "call_back";
    callBack.hidden = !on;
    callBack.querySelector("input").required = on;
  }

  document.querySelectorAll("input[name=outcome]").forEach(function (radio) {
    radio.addEventListener("change", showCallBack);
  });
  showCallBack();
  try {
    document.getElementById("zone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) { /* the organisation's zone, then */ }
  window.setInterval(keep, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) keep(); });
})();
