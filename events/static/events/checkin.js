// The check-in page, on a phone at the door. Typing in the search box hides the people who do not
// match (the page also filters on the server with ?q= when there is no script). A tap on a person
// marks them present or not with one JSON request, and the counts follow; if the request cannot
// be made, the form is posted as it would be without script.
(function () {
  "use strict";
  var page = document.getElementById("checkin");
  if (!page) return;
  var search = document.getElementById("checkin-q");
  var status = document.getElementById("checkin-status");
  var items = Array.prototype.slice.call(page.querySelectorAll("[data-search]"));

  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function filter() {
    var words = fold(search.value).split(/\s+/).filter(Boolean);
    var digits = search.value.replace(/\D/g, "").replace(/^0/, "");
    var shown = 0;
    items.forEach(function (item) {
      var haystack = fold(item.dataset.search);
      var match = words.every(function (word) { return haystack.indexOf(word) !== -1; });
      if (!match && digits.length >= 3) match = (item.dataset.phone || "").indexOf(digits) !== -1;
      item.hidden = !match;
      if (match) shown += 1;
    });
    var none = document.getElementById("checkin-none");
    if (none) none.hidden = shown !== 0;
  }

  if (search) {
    search.addEventListener("input", filter);
    var form = search.form;
    if (form) form.addEventListener("submit", function (event) { event.preventDefault(); filter(); });
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  function show(button, present) {
    button.setAttribute("aria-pressed", present ? "true" : "false");
    button.querySelector(".mark").textContent = present ? "✓" : "";
    var field = button.form.querySelector("input[name=present]");
    field.value = present ? "0" : "1";  // the next tap does the opposite
  }

  function counts(figures) {
    Object.keys(figures || {}).forEach(function (key) {
      var cell = page.querySelector('[data-count="' + key + '"]');
      if (cell) cell.textContent = figures[key];
    });
  }

  page.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("checkin-form") || !window.fetch) return;
    event.preventDefault();
    var button = form.querySelector(".checkin-toggle");
    if (button.getAttribute("aria-busy") === "true") return;
    var present = form.querySelector("input[name=present]").value === "1";
    button.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify({ present: present }),
    })
      .then(function (answer) {
        return answer.json().then(function (body) { return { ok: answer.ok, body: body }; });
      })
      .then(function (result) {
        button.removeAttribute("aria-busy");
        if (!result.ok) {
          say(result.body && result.body.error ? result.body.error.message : page.dataset.failed);
          return;
        }
        show(button, result.body.present);
        counts(result.body.counts);
        say((result.body.present ? page.dataset.present : page.dataset.absent).replace("%s", button.dataset.name));
      })
      .catch(function () {
        button.removeAttribute("aria-busy");
        form.submit();
      });
  });
})();
