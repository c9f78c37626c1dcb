// The editor's cutting room: frame-accurate preview, in/out points, middle cuts, social-cut range.
// Times are snapped to frame starts (frame n starts at n / fps); the server snaps again.
(function () {
  "use strict";
  const box = document.getElementById("trim");
  if (!box) return;
  const video = document.getElementById("preview");
  const fps = parseFloat(box.dataset.fps) || 25;
  const duration = parseFloat(box.dataset.duration) || 0;
  const maxSocial = parseFloat(box.dataset.maxSocial) || 90;
  const i18n = JSON.parse(document.getElementById("trim-i18n").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);

  const state = { inS: 0, outS: duration, cuts: [], cutStart: null, socialStart: null, socialEnd: null };

  const frameOf = (t) => Math.round(t * fps);
  const snap = (t) => Math.min(duration, Math.max(0, frameOf(t) / fps));
  function fmt(t) {
    if (t === null || t === undefined || isNaN(t)) return "—";
    const ms = Math.round(t * 1000);
    const h = Math.floor(ms / 3600000), m = Math.floor((ms % 3600000) / 60000);
    const s = Math.floor((ms % 60000) / 1000), r = ms % 1000;
    const p = (n, w) => String(n).padStart(w, "0");
    return `${p(h, 2)}:${p(m, 2)}:${p(s, 2)}.${p(r, 3)}`;
  }
  // The frame on screen: a hair past its start so the browser never shows the previous one.
  function seekFrame(n) {
    const last = Math.max(0, Math.floor(duration * fps) - 1);
    n = Math.min(last, Math.max(0, n));
    video.currentTime = n / fps + 0.001;
  }
  const now = () => snap(video.currentTime);

  // --- transport ---------------------------------------------------------------------------------
  document.querySelectorAll("[data-step-f]").forEach((b) => b.addEventListener("click", () => {
    video.pause(); seekFrame(frameOf(video.currentTime) + parseInt(b.dataset.stepF, 10));
  }));
  document.querySelectorAll("[data-step-s]").forEach((b) => b.addEventListener("click", () => {
    video.pause(); seekFrame(frameOf(video.currentTime) + Math.round(parseFloat(b.dataset.stepS) * fps));
  }));
  $("play").addEventListener("click", () => (video.paused ? video.play() : video.pause()));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea")) return;
    const step = e.shiftKey ? Math.round(fps) : 1;
    if (e.key === "ArrowRight") { video.pause(); seekFrame(frameOf(video.currentTime) + step); }
    else if (e.key === "ArrowLeft") { video.pause(); seekFrame(frameOf(video.currentTime) - step); }
    else if (e.key === " ") { video.paused ? video.play() : video.pause(); }
    else if (e.key === "i" || e.key === "I") setIn();
    else if (e.key === "o" || e.key === "O") setOut();
    else return;
    e.preventDefault();
  });

  const bar = $("timeline-bar");
  function timeAt(ev) {
    const r = bar.getBoundingClientRect();
    return Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)) * duration;
  }
  bar.addEventListener("click", (ev) => { video.pause(); seekFrame(frameOf(timeAt(ev))); });

  // Seek previews from the storyboard sprite (the same one the player can use).
  const sb = box.dataset.storyboardUrl ? {
    url: box.dataset.storyboardUrl, interval: parseFloat(box.dataset.sbInterval), count: parseInt(box.dataset.sbCount, 10),
    cols: parseInt(box.dataset.sbColumns, 10), w: parseInt(box.dataset.sbW, 10), h: parseInt(box.dataset.sbH, 10),
  } : null;
  const sbBox = $("sb-preview");
  if (sb) {
    Object.assign(sbBox.style, { width: sb.w + "px", height: sb.h + "px", backgroundImage: `url("${sb.url}")` });
    bar.addEventListener("mousemove", (ev) => {
      const t = timeAt(ev);
      const i = Math.min(sb.count - 1, Math.floor(t / sb.interval));
      sbBox.style.backgroundPosition = `-${(i % sb.cols) * sb.w}px -${Math.floor(i / sb.cols) * sb.h}px`;
      const r = bar.getBoundingClientRect();
      sbBox.style.left = Math.min(r.width - sb.w, Math.max(0, ev.clientX - r.left - sb.w / 2)) + "px";
      sbBox.hidden = false;
    });
    bar.addEventListener("mouseleave", () => { sbBox.hidden = true; });
  }

  function showTime() {
    $("timecode").textContent = fmt(now());
    $("frame-no").textContent = `${i18n.frame} ${frameOf(video.currentTime)}`;
    $("playhead").style.left = (duration ? (video.currentTime / duration) * 100 : 0) + "%";
  }
  video.addEventListener("timeupdate", showTime);
  video.addEventListener("seeked", showTime);
  (function loop() { if (!video.paused) showTime(); requestAnimationFrame(loop); })();

  // --- trim --------------------------------------------------------------------------------------
  function kept() {
    const cuts = state.cuts.slice().sort((a, b) => a[0] - b[0]);
    const out = []; let cursor = state.inS;
    for (const [a, b] of cuts) { if (a > cursor) out.push([cursor, a]); cursor = Math.max(cursor, b); }
    if (state.outS > cursor) out.push([cursor, state.outS]);
    return out;
  }
  function render() {
    $("in-point").textContent = fmt(state.inS);
    $("out-point").textContent = fmt(state.outS);
    const segs = $("segments"); segs.textContent = "";
    for (const [a, b] of kept()) {
      const d = document.createElement("div");
      d.className = "kept";
      d.style.left = (a / duration) * 100 + "%"; d.style.width = ((b - a) / duration) * 100 + "%";
      segs.appendChild(d);
    }
    const list = $("cuts"); list.textContent = "";
    state.cuts.forEach(([a, b], i) => {
      const li = document.createElement("li");
      li.textContent = `${i18n.cut} ${fmt(a)} → ${fmt(b)} `;
      const rm = document.createElement("button");
      rm.type = "button"; rm.textContent = i18n.remove; rm.className = "link";
      rm.addEventListener("click", () => { state.cuts.splice(i, 1); render(); });
      li.appendChild(rm); list.appendChild(li);
    });
    $("result-duration").textContent = fmt(kept().reduce((s, [a, b]) => s + b - a, 0));
    const pending = $("cut-pending");
    pending.hidden = state.cutStart === null;
    pending.querySelector("output").textContent = fmt(state.cutStart);
    $("cut-end").disabled = state.cutStart === null;
    renderSocial();
  }
  function setIn() { state.inS = Math.min(now(), state.outS - 1 / fps); render(); }
  function setOut() { state.outS = Math.max(now(), state.inS + 1 / fps); render(); }
  $("set-in").addEventListener("click", setIn);
  $("set-out").addEventListener("click", setOut);
  $("cut-start").addEventListener("click", () => { state.cutStart = now(); render(); });
  $("cut-end").addEventListener("click", () => {
    const a = state.cutStart, b = now();
    if (a !== null && b > a) state.cuts.push([a, b]);
    state.cutStart = null; render();
  });

  async function post(url, body, messageEl) {
    messageEl.classList.remove("error");
    try {
      const r = await fetch(url, {
        method: "POST", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) { messageEl.textContent = data.message || i18n.error; messageEl.classList.add("error"); return null; }
      messageEl.textContent = i18n.queued;
      poll();
      return data;
    } catch (_) { messageEl.textContent = i18n.error; messageEl.classList.add("error"); return null; }
  }
  $("apply-trim").addEventListener("click", () => post(box.dataset.trimUrl,
    { in_s: state.inS, out_s: state.outS, cuts: state.cuts }, $("trim-message")));
  const reset = $("reset-trim");
  if (reset) reset.addEventListener("click", () => {
    if (window.confirm(i18n.confirm_reset)) post(box.dataset.trimUrl, { reset: true }, $("trim-message"));
  });

  // --- social cut --------------------------------------------------------------------------------
  function renderSocial() {
    const a = state.socialStart, b = state.socialEnd;
    $("social-start").textContent = fmt(a); $("social-end").textContent = fmt(b);
    const range = $("social-range");
    let problem = null;
    if (a !== null && b !== null) {
      $("social-length").textContent = fmt(b - a);
      if (b <= a) problem = i18n.reversed; else if (b - a > maxSocial + 1e-6) problem = i18n.too_long;
      range.hidden = false;
      range.style.left = (Math.min(a, b) / duration) * 100 + "%";
      range.style.width = (Math.abs(b - a) / duration) * 100 + "%";
    } else { $("social-length").textContent = "—"; range.hidden = true; }
    const msg = $("social-message");
    if (problem) { msg.textContent = problem; msg.classList.add("error"); }
    else if (msg.classList.contains("error")) { msg.textContent = ""; msg.classList.remove("error"); }
    $("make-social").disabled = a === null || b === null || problem !== null;
  }
  $("social-set-start").addEventListener("click", () => {
    state.socialStart = now();
    if (state.socialEnd === null) state.socialEnd = Math.min(duration, snap(state.socialStart + Math.min(30, maxSocial)));
    render();
  });
  $("social-set-end").addEventListener("click", () => { state.socialEnd = now(); render(); });
  $("make-social").addEventListener("click", () => {
    const mode = (box.querySelector('input[name="mode"]:checked') || {}).value || "centre";
    const language = $("social-language").value;
    post(box.dataset.socialUrl, { start_s: state.socialStart, end_s: state.socialEnd, mode,
      language: language === "none" ? "" : language }, $("social-message"));
  });

  // --- jobs ----------------------------------------------------------------------------------------
  let polling = false, sawTrimRunning = false;
  async function poll() {
    if (polling) return; polling = true;
    try {
      while (true) {
        let data;
        try {
          const r = await fetch(box.dataset.productsUrl, { headers: { Accept: "application/json" } });
          data = await r.json();
        } catch (_) { await new Promise((ok) => setTimeout(ok, 3000)); continue; }
        renderJobs(data.products);
        const active = data.products.filter((p) => p.status === "queued" || p.status === "running");
        if (active.some((p) => p.kind === "trim")) sawTrimRunning = true;
        else if (sawTrimRunning && data.products.some((p) => p.kind === "trim" && p.status === "done")) {
          $("trim-message").textContent = i18n.done_reload;
          setTimeout(() => window.location.reload(), 1200);
          return;
        }
        if (!active.length) return;
        await new Promise((ok) => setTimeout(ok, 1500));
      }
    } finally { polling = false; }
  }
  function renderJobs(items) {
    const body = document.querySelector("#product-jobs tbody");
    body.textContent = "";
    $("no-jobs").hidden = items.length > 0;
    for (const p of items) {
      const tr = document.createElement("tr");
      tr.dataset.product = p.id; tr.className = "product " + p.status;
      const what = document.createElement("td");
      const params = p.params || {};
      what.textContent = p.kind === "social_cut"
        ? `${p.kind_label} ${fmt(params.start_s)} → ${fmt(params.end_s)}`
        : `${p.kind_label} ${params.reset ? "" : fmt(params.duration_s)}`;
      const st = document.createElement("td");
      st.textContent = p.status_label;
      if (p.message) { const m = document.createElement("div"); m.className = "message error"; m.textContent = p.message; st.appendChild(m); }
      const pr = document.createElement("td");
      pr.innerHTML = '<div class="progress"><div class="bar"></div><span class="label"></span></div>';
      pr.querySelector(".bar").style.width = p.percent + "%";
      pr.querySelector(".label").textContent = Math.round(p.percent) + "%";
      const act = document.createElement("td");
      if (p.status === "queued" || p.status === "running") {
        const b = document.createElement("button");
        b.type = "button"; b.className = "cancel"; b.textContent = i18n.cancel;
        b.addEventListener("click", async () => {
          b.disabled = true;
          await fetch(p.cancel_url, { method: "POST", headers: { Accept: "application/json", "X-CSRFToken": csrf } });
          poll();
        });
        act.appendChild(b);
      }
      if (p.download_url) {
        const a = document.createElement("a");
        a.href = p.download_url; a.className = "button"; a.textContent = i18n.download;
        act.appendChild(a);
      }
      tr.append(what, st, pr, act);
      body.appendChild(tr);
    }
  }

  render();
  showTime();
  poll();
})();
