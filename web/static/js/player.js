// Portal player: hls.js where Media Source Extensions exist, native HLS otherwise (Safari, iOS).
// Subtitles on by default (the event's language first; ?cc=0 or the viewer's last choice turns them off),
// a track menu, `#t=90` / `#t=1m30s` start positions, transcript lines that seek and follow playback,
// storyboard previews over the lower part of the picture, a view beacon on first play, copy buttons.
(function () {
  const video = document.getElementById("player");
  if (!video) return;
  const src = video.dataset.src;
  const showError = () => {
    const box = document.getElementById("player-error");
    box.textContent = video.dataset.error;
    box.hidden = false;
  };
  if (!src) {
    showError();
  } else if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ capLevelToPlayerSize: true });
    let recovered = false;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) { recovered = true; hls.recoverMediaError(); return; }
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) { hls.startLoad(); return; }
      showError();
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    window.diemcauHls = hls;
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  } else {
    showError();
  }

  // --- subtitles ---------------------------------------------------------------------------------
  const select = document.getElementById("caption-select");
  const STORE = "diemcau.captions";
  const subtitleTracks = () => Array.from(video.textTracks).filter((t) => t.kind === "subtitles");
  const showTrack = (lang) => {
    subtitleTracks().forEach((t) => { t.mode = t.language === lang ? "showing" : "disabled"; });
    if (select) select.value = lang || "";
  };
  let wanted = video.dataset.captions === "on" && subtitleTracks().length ? subtitleTracks()[0].language : "";
  try {
    const saved = localStorage.getItem(STORE);
    if (saved !== null && video.dataset.captions === "on") wanted = saved;
  } catch (_e) { /* storage blocked: keep the default */ }
  showTrack(wanted);
  if (select) {
    select.addEventListener("change", () => {
      showTrack(select.value);
      try { localStorage.setItem(STORE, select.value); } catch (_e) { /* ignore */ }
    });
  }

  // --- start position from the URL: #t=90, #t=1:30, #t=1m30s -------------------------------------
  const parseTime = (value) => {
    if (!value) return null;
    if (/^\d+(\.\d+)?$/.test(value)) return parseFloat(value);
    if (/^\d+(:\d{1,2}){1,2}$/.test(value)) return value.split(":").reduce((acc, part) => acc * 60 + parseInt(part, 10), 0);
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
    if (m && (m[1] || m[2] || m[3])) return (+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0);
    return null;
  };
  const seekFromHash = () => {
    const match = /(?:^|[#&])t=([^&]+)/.exec(location.hash);
    const t = match ? parseTime(decodeURIComponent(match[1])) : null;
    if (t === null) return;
    const go = () => { video.currentTime = t; };
    if (video.readyState >= 1) go(); else video.addEventListener("loadedmetadata", go, { once: true });
  };
  seekFromHash();
  window.addEventListener("hashchange", seekFromHash);

  // --- transcript: click to seek, the current line follows playback ------------------------------
  const cues = Array.from(document.querySelectorAll(".transcript .cue"));
  cues.forEach((button) => {
    button.addEventListener("click", () => {
      video.currentTime = parseFloat(button.dataset.start);
      video.play().catch(() => {});
    });
  });
  let current = null;
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    const next = cues.find((b) => t >= parseFloat(b.dataset.start) && t < parseFloat(b.dataset.end || "1e9")) || null;
    if (next === current) return;
    if (current) current.removeAttribute("aria-current");
    current = next;
    if (current) {
      current.setAttribute("aria-current", "true");
      const list = current.closest("ol");
      if (list && document.activeElement && !list.contains(document.activeElement)) {
        list.scrollTop = current.offsetTop - list.offsetTop - list.clientHeight / 3;
      }
    }
  });

  // --- view count: one beacon on the first play of this page -------------------------------------
  const player = video.closest(".player");
  let counted = false;
  video.addEventListener("play", () => {
    if (counted || !player || !player.dataset.viewUrl) return;
    counted = true;
    if (navigator.sendBeacon) navigator.sendBeacon(player.dataset.viewUrl);
    else fetch(player.dataset.viewUrl, { method: "POST", keepalive: true }).catch(() => {});
  });

  // --- storyboard: WebVTT cues naming sprite regions (image.jpg#xywh=x,y,w,h) ----------------------
  const preview = document.getElementById("storyboard-preview");
  if (video.dataset.storyboard && preview) {
    fetch(video.dataset.storyboard).then((r) => (r.ok ? r.text() : "")).then((text) => {
      const base = new URL(video.dataset.storyboard, location.href);
      const frames = [];
      const stamp = (s) => s.split(":").reduce((acc, p) => acc * 60 + parseFloat(p), 0);
      text.split(/\r?\n\r?\n/).forEach((block) => {
        const m = /([\d:.]+)\s+-->\s+([\d:.]+)\s*\n\s*(\S+)/.exec(block);
        if (!m) return;
        const [file, frag] = m[3].split("#xywh=");
        const [x, y, w, h] = (frag || "0,0,160,90").split(",").map(Number);
        frames.push({ start: stamp(m[1]), end: stamp(m[2]), url: new URL(file, base).href, x, y, w, h });
      });
      if (!frames.length) return;
      const image = preview.querySelector("span");
      video.addEventListener("mousemove", (event) => {
        const box = video.getBoundingClientRect();
        const nearBar = event.clientY > box.bottom - Math.max(48, box.height * 0.15);
        if (!nearBar || !video.duration) { preview.hidden = true; return; }
        const t = ((event.clientX - box.left) / box.width) * video.duration;
        const f = frames.find((fr) => t >= fr.start && t < fr.end) || frames[frames.length - 1];
        image.style.cssText = `width:${f.w}px;height:${f.h}px;background:url("${f.url}") -${f.x}px -${f.y}px`;
        preview.style.left = `${Math.min(Math.max(0, event.clientX - box.left - f.w / 2), box.width - f.w)}px`;
        preview.hidden = false;
      });
      video.addEventListener("mouseleave", () => { preview.hidden = true; });
    }).catch(() => {});
  }

  // --- share: copy buttons and the system share sheet (Zalo, Messenger… on phones) ----------------
  const status = document.querySelector(".share .copied");
  document.querySelectorAll(".share .copy").forEach((button) => {
    button.addEventListener("click", () => {
      const field = document.querySelector(button.dataset.copy);
      field.select();
      const done = () => { if (status) status.textContent = status.dataset.text; };
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
      else { document.execCommand("copy"); done(); }
    });
  });
  const native = document.getElementById("share-native");
  if (native && navigator.share) {
    native.hidden = false;
    native.addEventListener("click", () => navigator.share({ title: document.title, url: document.getElementById("share-url").value }).catch(() => {}));
  }
})();
