// Small behaviours shared by the panel's pages, bound here rather than in inline handlers, which the
// Content-Security-Policy does not run.
(function () {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.matches("[data-select-on-click]")) target.select();
    if (target.closest("[data-print]")) window.print();
  });
})();
