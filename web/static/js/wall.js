// Live operations wall: a snapshot, then updates pushed over Server-Sent Events. Updates are merged as
// they arrive and drawn at most every 500 ms, so 250 sites reporting every 2 s stay cheap to render.
// An event with more sites than one page of tiles is "paged": the wall shows one page at a time (asked
// from the wall API, filtered there for "only problems"), its totals are the server's over every site,
// and page and totals are refreshed every few seconds; updates still move the tiles on the page at once.
(function () {
  const root = document.getElementById("wall");
  if (!root) return;
  const labels = JSON.parse(root.dataset.labels);
  const statusLabels = JSON.parse(root.dataset.statusLabels);
  const levelLabels = JSON.parse(root.dataset.levelLabels);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const tiles = new Map();      // site_id -> {data, el}
  const pending = new Map();    // site_id -> merged update not drawn yet
  const CONNECTED = new Set(["joined", "receiving", "degraded"]);
  const PROBLEMS = new Set(["not_joined", "degraded", "dropped"]);
  let staleS = 10;
  let clockOffset = 0;          // server time - browser time, seconds
  let lastDraw = 0;
  let drawTimer = null;
  let updates = 0;
  let paged = false;
  let offset = 0;
  let serverTotals = null;
  const pageSize = parseInt(root.dataset.pageSize, 10) || 500;
  const onlyProblems = () => document.getElementById("only-problems").checked;

  const serverNow = () => Date.now() / 1000 + clockOffset;
  const fmt = (v, unit) => (v === null || v === undefined ? "–" : `${Math.round(v * 10) / 10} ${unit}`);

  function effective(d) {
    if (CONNECTED.has(d.state) && d.ts && serverNow() - d.ts > staleS) return "dropped";
    return d.state || "not_joined";
  }

  function build(snapshot) {
    staleS = snapshot.stale_s || 10;
    clockOffset = snapshot.server_time - Date.now() / 1000;
    tiles.clear();
    pending.clear();
    const groups = document.getElementById("groups");
    const byLevel = new Map();
    for (const t of snapshot.tiles) {
      const key = `${t.depth}:${t.level}`;
      if (!byLevel.has(key)) byLevel.set(key, []);
      byLevel.get(key).push(t);
    }
    const sections = [];
    for (const [key, list] of [...byLevel.entries()].sort((a, b) => parseInt(a[0]) - parseInt(b[0]))) {
      const level = key.split(":").slice(1).join(":");
      const section = document.createElement("section");
      section.className = "wall-group";
      const h = document.createElement("h2");
      h.textContent = `${levelLabels[level] || level} (${list.length})`;
      const grid = document.createElement("div");
      grid.className = "tiles";
      for (const t of list) {
        const el = document.createElement("article");
        el.className = "tile";
        el.dataset.site = t.site_id;
        el.innerHTML = '<h3></h3><p class="state"></p><dl><dt>RTT</dt><dd class="rtt"></dd><dt class="loss-l"></dt>' +
          '<dd class="loss"></dd><dt>kbps</dt><dd class="rate"></dd></dl><p class="people"></p><p class="seen muted small"></p>';
        el.querySelector(".loss-l").textContent = root.dataset.msgLoss;
        el.querySelector("h3").textContent = t.name;
        el.querySelector("h3").title = t.code;
        grid.appendChild(el);
        tiles.set(t.site_id, { data: t, el });
        draw(t.site_id);
      }
      section.append(h, grid);
      sections.push(section);
    }
    groups.replaceChildren(...sections);
    setStatus(snapshot.status);
    if (paged) { serverTotals = snapshot.totals; pager(snapshot.page); }
    totals();
    applyFilter();
  }

  function pager(page) {
    const nav = document.getElementById("wall-pager");
    nav.hidden = false;
    document.getElementById("wall-range").textContent = root.dataset.msgRange
      .replace("%(first)s", page.total ? page.offset + 1 : 0)
      .replace("%(last)s", Math.min(page.offset + page.limit, page.total)).replace("%(total)s", page.total);
    document.getElementById("wall-prev").disabled = page.offset <= 0;
    document.getElementById("wall-next").disabled = page.offset + page.limit >= page.total;
  }

  let loading = null;
  async function load() {
    const url = `${root.dataset.api}?offset=${offset}&limit=${pageSize}&problems=${onlyProblems() ? 1 : 0}`;
    const mine = (loading = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }));
    try {
      const r = await mine;
      if (!r.ok || mine !== loading) return;
      build(await r.json());
    } catch (_) { /* the next refresh tries again */ }
  }
  document.getElementById("wall-prev").addEventListener("click", () => { offset = Math.max(0, offset - pageSize); load(); });
  document.getElementById("wall-next").addEventListener("click", () => { offset += pageSize; load(); });
  setInterval(() => { if (paged) load(); }, 5000);

  function draw(siteId) {
    const tile = tiles.get(siteId);
    if (!tile) return;
    const d = tile.data;
    const state = effective(d);
    tile.el.dataset.state = state;
    tile.el.querySelector(".state").textContent = labels[state] || state;
    tile.el.querySelector(".rtt").textContent = fmt(d.rtt_ms, "ms");
    tile.el.querySelector(".loss").textContent = fmt(d.loss_pct, "%");
    tile.el.querySelector(".rate").textContent = d.bitrate_kbps == null ? "–" : Math.round(d.bitrate_kbps);
    tile.el.querySelector(".people").textContent = d.attendance == null ? "" : `${d.attendance} ${root.dataset.msgPeople}`;
    seen(tile);
  }

  function seen(tile) {
    const d = tile.data;
    tile.el.querySelector(".seen").textContent = d.ts
      ? root.dataset.msgAgo.replace("%(s)s", Math.max(0, Math.round(serverNow() - d.ts))) : root.dataset.msgNever;
  }

  function totals() {
    if (paged && serverTotals) {
      const t = serverTotals;
      document.getElementById("total-sites").textContent = t.sites;
      document.getElementById("total-connected").textContent = t.connected;
      document.getElementById("total-attendees").textContent = t.attendees;
      document.getElementById("total-problems").textContent = t.problems;
      for (const k of ["not_joined", "joined", "receiving", "degraded", "dropped"]) {
        const el = document.getElementById(`count-${k}`);
        if (el) el.textContent = t[`state_${k}`];
      }
      return;
    }
    const counts = { not_joined: 0, joined: 0, receiving: 0, degraded: 0, dropped: 0 };
    let people = 0;
    for (const { data } of tiles.values()) {
      counts[effective(data)] = (counts[effective(data)] || 0) + 1;
      people += data.attendance || 0;
    }
    document.getElementById("total-sites").textContent = tiles.size;
    document.getElementById("total-connected").textContent = counts.joined + counts.receiving + counts.degraded;
    document.getElementById("total-attendees").textContent = people;
    document.getElementById("total-problems").textContent = counts.degraded + counts.dropped;
    for (const [k, v] of Object.entries(counts)) {
      const el = document.getElementById(`count-${k}`);
      if (el) el.textContent = v;
    }
  }

  function applyFilter() {
    if (paged) return;  // the server filters a paged wall
    const only = onlyProblems();
    for (const { data, el } of tiles.values()) el.hidden = only && !PROBLEMS.has(effective(data));
    for (const section of document.querySelectorAll(".wall-group")) {
      section.hidden = only && !section.querySelector(".tile:not([hidden])");
    }
  }
  document.getElementById("only-problems").addEventListener("change", () => {
    if (paged) { offset = 0; load(); } else applyFilter();
  });

  function flush() {
    drawTimer = null;
    lastDraw = performance.now();
    for (const [siteId, update] of pending) {
      const tile = tiles.get(siteId);
      if (!tile) continue;
      Object.assign(tile.data, update);
      draw(siteId);
    }
    pending.clear();
    totals();
    if (onlyProblems()) applyFilter();
    root.dataset.updates = updates;
  }

  function schedule() {
    if (drawTimer) return;
    const wait = Math.max(0, 500 - (performance.now() - lastDraw));
    drawTimer = setTimeout(() => requestAnimationFrame(flush), wait);
  }

  function setStatus(status) {
    const badge = document.getElementById("event-status");
    badge.className = "badge " + status;
    badge.textContent = statusLabels[status] || status;
    root.dataset.status = status;
    document.getElementById("wall-start").hidden = status !== "scheduled";
    document.getElementById("wall-stop").hidden = status !== "live";
  }

  // Every second: "last seen" ages, and silent sites turn dropped without any message.
  setInterval(() => {
    for (const tile of tiles.values()) {
      const before = tile.el.dataset.state;
      if (effective(tile.data) !== before) draw(tile.data.site_id); else seen(tile);
    }
    totals();
  }, 1000);

  const streamState = document.getElementById("stream-state");
  function connect() {
    const source = new EventSource(root.dataset.stream);
    source.addEventListener("snapshot", (e) => {
      const snapshot = JSON.parse(e.data);
      streamState.textContent = "";
      if (!paged && snapshot.page && snapshot.page.total > snapshot.tiles.length) paged = true;
      // The stream's snapshot is the first page, unfiltered: another page or the filter is asked again.
      if (paged && (offset > 0 || onlyProblems())) load(); else build(snapshot);
    });
    source.addEventListener("update", (e) => {
      const batch = JSON.parse(e.data);
      clockOffset = batch.t - Date.now() / 1000;
      for (const item of batch.items) {
        updates++;
        pending.set(item.site_id, Object.assign(pending.get(item.site_id) || {}, item));
      }
      schedule();
    });
    source.addEventListener("status", (e) => {
      const d = JSON.parse(e.data);
      if (d.type === "started") setStatus("live");
      if (d.type === "stopped") setStatus("ended");
    });
    source.addEventListener("tick", (e) => { clockOffset = JSON.parse(e.data).t - Date.now() / 1000; });
    source.onerror = () => { streamState.textContent = root.dataset.msgLost; };
  }
  connect();

  async function post(url) {
    const r = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf, Accept: "application/json" },
                                 credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    const box = document.getElementById("wall-error");
    if (!r.ok) { box.textContent = data.message || r.status; box.hidden = false; return; }
    box.hidden = true;
    setStatus(data.status);
  }
  document.getElementById("wall-start").addEventListener("click", () => post(root.dataset.start));
  document.getElementById("wall-stop").addEventListener("click", () => {
    if (confirm(root.dataset.msgConfirmStop)) post(root.dataset.stop);
  });
})();
