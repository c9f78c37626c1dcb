// The conference form's participant picker: choose sites by level and subtree (server-side selection
// through /api/sites/select), then tick or untick them one by one in a tree; add single sites by search.
(function () {
  const box = document.getElementById("participants");
  if (!box) return;
  const tree = document.getElementById("pick-tree");
  const summary = document.getElementById("pick-summary");
  const rootSel = document.getElementById("pick-root");
  const withinSel = document.getElementById("pick-within");
  const search = document.getElementById("pick-search");
  const found = document.getElementById("pick-found");
  const levelNames = JSON.parse(box.dataset.levelNames || "{}");
  const sites = new Map();     // id -> site (every site shown in the tree)
  const checked = new Set();   // ids posted as site_ids

  function setSites(list, replace) {
    if (replace) { sites.clear(); checked.clear(); }
    for (const s of list) { sites.set(s.id, s); checked.add(s.id); }
    render();
  }

  function render() {
    const byParent = new Map();
    const ordered = [...sites.values()].sort((a, b) => a.depth - b.depth || a.code.localeCompare(b.code));
    const tops = [];
    for (const s of ordered) {
      if (s.parent_id && sites.has(s.parent_id)) {
        if (!byParent.has(s.parent_id)) byParent.set(s.parent_id, []);
        byParent.get(s.parent_id).push(s);
      } else tops.push(s);
    }
    const ul = document.createElement("ul");
    for (const s of tops) ul.appendChild(node(s, byParent, tops.length < 5));
    tree.replaceChildren(ul);
    updateSummary();
  }

  function node(s, byParent, open) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    label.className = "check";
    const input = document.createElement("input");
    input.type = "checkbox"; input.name = "site_ids"; input.value = s.id; input.checked = checked.has(s.id);
    input.dataset.level = s.level;
    input.addEventListener("change", () => { input.checked ? checked.add(s.id) : checked.delete(s.id); updateSummary(); });
    label.append(input, " " + s.name + " ");
    const code = document.createElement("small"); code.className = "muted"; code.textContent = s.code;
    label.appendChild(code);
    const kids = byParent.get(s.id) || [];
    if (kids.length) {
      const details = document.createElement("details");
      details.open = !!open;   // the top of a small selection starts unfolded
      const sum = document.createElement("summary");
      sum.appendChild(label);
      const all = document.createElement("button");
      all.type = "button"; all.className = "link small toggle-all"; all.textContent = "☑/☐";
      all.addEventListener("click", (e) => {
        e.preventDefault();
        const boxes = details.querySelectorAll(":scope > ul input[type=checkbox]");
        const on = [...boxes].some((b) => !b.checked);
        boxes.forEach((b) => { b.checked = on; on ? checked.add(+b.value) : checked.delete(+b.value); });
        updateSummary();
      });
      sum.appendChild(all);
      details.appendChild(sum);
      const ul = document.createElement("ul");
      for (const k of kids) ul.appendChild(node(k, byParent));
      details.appendChild(ul);
      li.appendChild(details);
    } else li.appendChild(label);
    return li;
  }

  function updateSummary() {
    if (!checked.size) { summary.textContent = box.dataset.msgNone; return; }
    const counts = {};
    for (const id of checked) { const lv = (sites.get(id) || {}).level || "?"; counts[lv] = (counts[lv] || 0) + 1; }
    const parts = Object.entries(counts).map(([lv, n]) => `${levelNames[lv] || lv}: ${n}`);
    summary.textContent = box.dataset.msgCount.replace("%(n)s", checked.size) + " — " + parts.join(" · ");
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!r.ok) throw new Error(r.status);
    return r.json();
  }

  async function loadWithin() {
    withinSel.replaceChildren();
    if (!rootSel.value) return;
    try {
      const data = await getJSON(`${box.dataset.childrenUrl}?parent=${rootSel.value}`);
      for (const s of data.sites) withinSel.add(new Option(s.name, s.id));
    } catch (_) { summary.textContent = box.dataset.msgFailed; }
  }

  document.getElementById("pick-apply").addEventListener("click", async () => {
    const q = new URLSearchParams();
    q.append("root", rootSel.value);
    document.querySelectorAll(".pick-level:checked").forEach((c) => q.append("level", c.value));
    [...withinSel.selectedOptions].forEach((o) => q.append("within", o.value));
    try {
      const data = await getJSON(`${box.dataset.selectUrl}?${q}`);
      setSites(data.sites, true);
    } catch (_) { summary.textContent = box.dataset.msgFailed; }
  });

  let searchTimer = null;
  const lastFound = new Map();
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      if (search.value.trim().length < 2) return;
      try {
        const data = await getJSON(`${box.dataset.childrenUrl}?q=${encodeURIComponent(search.value.trim())}`);
        found.replaceChildren();
        lastFound.clear();
        for (const s of data.sites) {
          const label = `${s.name} (${s.code})`;
          lastFound.set(label, s);
          found.appendChild(new Option(label));
        }
      } catch (_) { /* typing on: the next keystroke retries */ }
    }, 250);
  });
  document.getElementById("pick-add").addEventListener("click", () => {
    const s = lastFound.get(search.value) || [...lastFound.values()].find((x) => x.code === search.value.trim());
    if (!s) return;
    setSites([s], false);
    search.value = "";
  });

  rootSel.addEventListener("change", loadWithin);
  loadWithin();
  setSites(JSON.parse(document.getElementById("pick-initial").textContent || "[]"), true);
})();
