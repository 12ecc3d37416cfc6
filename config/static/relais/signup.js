// Suggest the organisation's address from its name until the person edits it themselves.
(function () {
  var form = document.getElementById("organisation-signup");
  if (!form) return;
  var name = form.querySelector("[name=name]");
  var slug = form.querySelector("[name=slug]");
  var edited = slug.value !== "";
  slug.addEventListener("input", function () { edited = slug.value !== ""; });
  name.addEventListener("input", function () {
    if (edited) return;
    slug.value = name.value
      .normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^[^a-z]+/, "").replace(/-+$/, "")
      .slice(0, 40).replace(/-+$/, "");
  });
})();
