// Transcript editor: cues beside the video. Click a cue to seek; click its text to edit; change
// its times; undo; save as a new version (the server re-renders the subtitle files).
(function () {
  "use strict";
  const root = document.getElementById("editor");
  if (!root) return;
  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const L = JSON.parse(document.getElementById("editor-labels").textContent);
  const video = document.getElementById("editor-video");
  const list = document.getElementById("cue-list");
  const undoButton = document.getElementById("editor-undo");
  const saveButton = document.getElementById("editor-save");
  const status = document.getElementById("editor-status");
  const versionList = document.getElementById("editor-versions");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  let cues = data.cues.map(copyCue);
  let baseVersion = data.version;
  let saved = snapshot();
  let undoStack = [];
  let editStart = null; // state before the text edit in progress
  let activeIndex = -1;

  function copyCue(c) {
    const out = { start: Number(c.start), end: Number(c.end), text: String(c.text || "") };
    if (Array.isArray(c.words) && c.words.length) out.words = c.words.map((w) => Object.assign({}, w));
    return out;
  }
  function snapshot() { return JSON.stringify(cues); }
  function dirty() { return snapshot() !== saved; }

  // --- times ----------------------------------------------------------------------------------
  function fmt(t) {
    const ms = Math.round(t * 1000);
    const h = Math.floor(ms / 3600000), m = Math.floor((ms % 3600000) / 60000);
    const s = ((ms % 60000) / 1000).toFixed(3).padStart(6, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }
  function parse(text) {
    const parts = String(text).trim().replace(",", ".").split(":");
    if (!parts.length || parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return NaN;
    return parts.reduce((acc, p) => acc * 60 + parseFloat(p), 0);
  }

  // --- state changes ----------------------------------------------------------------------------
  function remember(state) {
    undoStack.push(state);
    if (undoStack.length > 300) undoStack.shift();
    refresh();
  }
  function change(mutate) {
    const before = snapshot();
    mutate();
    if (snapshot() !== before) remember(before);
    render();
  }
  function refresh() {
    undoButton.disabled = undoStack.length === 0;
    saveButton.disabled = !dirty();
    if (dirty() && !status.classList.contains("error")) setStatus(L.unsaved, "");
    else if (!dirty() && status.textContent === L.unsaved) setStatus("", "");
  }
  function setStatus(text, kind) {
    status.textContent = text;
    status.className = kind || "";
  }
  function undo() {
    if (!undoStack.length) return;
    cues = JSON.parse(undoStack.pop());
    render();
    refresh();
  }

  // --- rendering ----------------------------------------------------------------------------------
  function textNodes(cue) {
    // Words the recogniser was unsure of are marked, when the words still spell the cue's text.
    const frag = document.createDocumentFragment();
    const lines = cue.text.split("\n");
    const tokens = cue.text.split(/\s+/).filter(Boolean);
    const words = cue.words && cue.words.length === tokens.length ? cue.words : null;
    let k = 0;
    lines.forEach((line, n) => {
      if (n) frag.appendChild(document.createElement("br"));
      line.split(/\s+/).filter(Boolean).forEach((token, i) => {
        if (i) frag.appendChild(document.createTextNode(" "));
        const word = words ? words[k] : null;
        k += 1;
        if (word && Number(word.p) < data.threshold) {
          const mark = document.createElement("mark");
          mark.className = "lowconf";
          mark.title = `${Math.round(Number(word.p) * 100)}%`;
          mark.textContent = token;
          frag.appendChild(mark);
        } else {
          frag.appendChild(document.createTextNode(token));
        }
      });
    });
    return frag;
  }

  function timeInput(cue, key, label) {
    const input = document.createElement("input");
    input.type = "text";
    input.inputMode = "decimal";
    input.className = `time ${key}`;
    input.value = fmt(cue[key]);
    input.setAttribute("aria-label", label);
    input.addEventListener("change", () => {
      const value = parse(input.value);
      if (!isFinite(value) || value < 0) {
        input.classList.add("invalid");
        input.title = L.bad_time;
        return;
      }
      change(() => { cue[key] = Math.round(value * 1000) / 1000; });
    });
    return input;
  }

  function row(cue, index) {
    const li = document.createElement("li");
    li.className = "cue-row";
    li.dataset.index = String(index);
    if (cue.end <= cue.start || (index > 0 && cue.start < cues[index - 1].end - 0.001)) li.classList.add("invalid");

    const seek = document.createElement("button");
    seek.type = "button";
    seek.className = "cue-seek";
    seek.title = L.play;
    seek.textContent = fmt(cue.start);
    seek.addEventListener("click", () => seekTo(cue.start));

    const times = document.createElement("div");
    times.className = "cue-times";
    times.append(timeInput(cue, "start", L.start), document.createTextNode(" → "), timeInput(cue, "end", L.end));

    const text = document.createElement("div");
    text.className = "cue-text";
    text.tabIndex = 0;
    text.setAttribute("role", "button");
    text.setAttribute("aria-label", L.edit_text);
    text.appendChild(textNodes(cue));
    const startEdit = () => editText(li, cue, text);
    text.addEventListener("click", () => { seekTo(cue.start); startEdit(); });
    text.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); startEdit(); } });

    const actions = document.createElement("div");
    actions.className = "cue-actions";
    const add = document.createElement("button");
    add.type = "button";
    add.className = "cue-insert";
    add.title = L.insert;
    add.textContent = "+";
    add.addEventListener("click", () => change(() => insertAfter(index)));
    const del = document.createElement("button");
    del.type = "button";
    del.className = "cue-delete";
    del.title = L.delete;
    del.textContent = "×";
    del.addEventListener("click", () => change(() => { cues.splice(index, 1); }));
    actions.append(add, del);

    li.append(seek, times, text, actions);
    li.addEventListener("click", (e) => {
      if (e.target === li) seekTo(cue.start);
    });
    return li;
  }

  function editText(li, cue, display) {
    if (li.querySelector("textarea")) return;
    const area = document.createElement("textarea");
    area.className = "cue-edit";
    area.value = cue.text;
    area.rows = Math.max(2, cue.text.split("\n").length);
    area.setAttribute("aria-label", L.edit_text);
    editStart = snapshot();
    area.addEventListener("input", () => {
      cue.text = area.value;
      // Edited text is checked by a person: the recogniser's confidence no longer applies.
      delete cue.words;
      refresh();
    });
    area.addEventListener("blur", () => {
      const before = editStart;
      editStart = null;
      cue.text = area.value.replace(/\r/g, "");
      if (before !== null && snapshot() !== before) remember(before);
      render();
    });
    area.addEventListener("keydown", (e) => {
      if (e.key === "Escape") area.blur();
    });
    display.replaceWith(area);
    area.focus();
  }

  function insertAfter(index) {
    const prev = cues[index];
    const next = cues[index + 1];
    const start = prev ? prev.end : 0;
    const end = next ? Math.max(start + 0.001, Math.min(start + 2, next.start)) : start + 2;
    cues.splice(index + 1, 0, { start: Math.round(start * 1000) / 1000, end: Math.round(end * 1000) / 1000,
      text: L.new_cue });
  }

  function render() {
    list.replaceChildren(...cues.map(row));
    document.getElementById("cue-empty").hidden = cues.length > 0;
    activeIndex = -1;
    highlight();
  }

  // --- the video ------------------------------------------------------------------------------------
  function seekTo(t) {
    if (!video) return;
    video.currentTime = t;
    highlight();
  }
  function highlight() {
    if (!video) return;
    const t = video.currentTime;
    const index = cues.findIndex((c) => t >= c.start - 0.01 && t < c.end);
    if (index === activeIndex) return;
    const old = list.querySelector(".cue-row.active");
    if (old) old.classList.remove("active");
    activeIndex = index;
    const current = index >= 0 ? list.children[index] : null;
    if (current) {
      current.classList.add("active");
      if (!video.paused) current.scrollIntoView({ block: "nearest" });
    }
  }
  if (video) {
    video.addEventListener("timeupdate", highlight);
    video.addEventListener("seeked", highlight);
  }

  // --- versions and saving --------------------------------------------------------------------------
  function renderVersions(items) {
    versionList.replaceChildren(...items.map((v) => {
      const li = document.createElement("li");
      li.dataset.version = String(v.version);
      const label = document.createElement("span");
      const who = v.author ? ` · ${L.by} ${v.author}` : "";
      label.textContent = `v${v.version} · ${v.source_label}${who} · ${v.created_at}`;
      li.appendChild(label);
      if (v.version === baseVersion) {
        const cur = document.createElement("em");
        cur.textContent = ` (${L.current})`;
        li.appendChild(cur);
      } else {
        const open = document.createElement("button");
        open.type = "button";
        open.className = "link version-open";
        open.textContent = L.restore;
        open.addEventListener("click", () => openVersion(v.version));
        li.append(" ", open);
      }
      return li;
    }));
  }

  async function openVersion(number) {
    if (dirty() && !window.confirm(L.restore_confirm)) return;
    const response = await fetch(data.version_url + number, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    change(() => { cues = body.cue_list.map(copyCue); });
    setStatus(L.opened.replace("{v}", String(number)), "");
  }

  async function save() {
    if (!dirty()) return;
    saveButton.disabled = true;
    setStatus(L.saving, "");
    let response;
    try {
      response = await fetch(data.save_url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf,
          "X-Requested-With": "XMLHttpRequest" },
        body: JSON.stringify({ base_version: baseVersion, cues: cues }),
      });
    } catch (err) {
      setStatus(L.network, "error");
      refresh();
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      baseVersion = body.version;
      saved = snapshot();
      setStatus(body.message, "success");
      renderVersions(body.versions);
    } else {
      setStatus(body.message || String(response.status), "error");
    }
    refresh();
  }

  undoButton.addEventListener("click", undo);
  saveButton.addEventListener("click", save);
  document.getElementById("cue-add-end").addEventListener("click", () => change(() => insertAfter(cues.length - 1)));
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z" && !e.shiftKey && !typing) {
      e.preventDefault();
      undo();
    } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
      e.preventDefault();
      if (document.activeElement instanceof HTMLTextAreaElement) document.activeElement.blur();
      save();
    }
  });
  window.addEventListener("beforeunload", (e) => {
    if (dirty()) { e.preventDefault(); e.returnValue = L.leave; }
  });

  render();
  renderVersions(data.versions);
  refresh();
})();
