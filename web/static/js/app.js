// The page's translations of the scripts' own strings, rendered by base.html from the catalogue
// (web/i18n.script_catalogue). Scripts mark a string as _("Ready.") or _("%(n)s sites", { n: 3 }), and
// pybabel extract (web/babel.cfg) puts it in messages.po with the others.
(function () {
  const el = document.getElementById("js-catalogue");
  const catalogue = el ? JSON.parse(el.textContent) : {};
  window._ = window.gettext = function (msgid, params) {
    const text = catalogue[msgid] || msgid;
    return params ? text.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole)) : text;
  };
})();

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
