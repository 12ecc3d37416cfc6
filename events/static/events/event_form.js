// "Add a timeslot" and "add a material" on the event form: a copy of the formset's empty row,
// numbered after the others. Without script the form shows a few empty rows already.
(function () {
  "use strict";
  document.querySelectorAll("[data-formset-add]").forEach(function (button) {
    var prefix = button.dataset.formsetAdd;
    var template = document.getElementById(prefix + "-template");
    var rows = document.getElementById(prefix + "-rows");
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var most = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
    if (!template || !rows || !total) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var count = parseInt(total.value, 10);
      if (most && count >= parseInt(most.value, 10)) return;
      var html = template.innerHTML.replace(/__prefix__/g, String(count));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(count + 1);
      var added = rows.lastElementChild && rows.lastElementChild.querySelector("input, select");
      if (added) added.focus();
    });
  });
})();
