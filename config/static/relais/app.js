// Confirmation before destructive actions: <form data-confirm="Delete this?"> asks first.
// (No inline onsubmit handlers: the Content-Security-Policy runs no inline script.)
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
