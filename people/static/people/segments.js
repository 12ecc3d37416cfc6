// The segment builder's live count: on each change, post the form (debounced) to the count
// endpoint and show the answer. Without JavaScript, the "Count" button does the same.
(() => {
  const form = document.getElementById("segment-builder");
  const output = document.getElementById("segment-count");
  if (!form || !output || !form.dataset.countUrl) {
    return;
  }
  let timer = null;
  let latest = 0;
  const count = async () => {
    const asked = ++latest;
    const data = new FormData(form);
    data.set("action", "count");
    try {
      const response = await fetch(form.dataset.countUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const answer = await response.json();
      if (asked !== latest) {
        return; // a newer count is on its way
      }
      output.textContent = response.ok ? answer.text : answer.error.message;
      output.classList.toggle("has-error", !response.ok);
    } catch (error) {
      if (asked === latest) {
        output.textContent = "";
      }
    }
  };
  const later = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(count, 400);
  };
  form.addEventListener("change", later);
  form.addEventListener("input", later);
})();
