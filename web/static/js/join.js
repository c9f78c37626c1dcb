// Site join page: state reports every few seconds while open, attendance, and the pre-flight check
// (camera, microphone, speakers, round trip to the server). No account: the URL's token is the key.
(function () {
  const root = document.getElementById("join");
  if (!root) return;
  const api = root.dataset.api;
  const interval = (+root.dataset.interval || 3) * 1000;
  const conn = document.getElementById("connection");
  const statusBadge = document.getElementById("event-status");
  const statusLabels = JSON.parse(root.dataset.statusLabels || "{}");
  let lastRtt = null;
  let stopped = false;

  // A browser that opened another site's link of the same event before: say so (the sites are easy to mix up).
  try {
    const key = `diemcau.join.${root.dataset.event}`;
    const prev = JSON.parse(localStorage.getItem(key) || "null");
    if (prev && prev.site !== root.dataset.site) {
      const box = document.getElementById("other-site");
      box.textContent = root.dataset.msgOtherSite.replace("%(site)s", prev.name);
      box.hidden = false;
    }
    localStorage.setItem(key, JSON.stringify({ site: root.dataset.site, name: root.dataset.siteName }));
  } catch (_) { /* private mode: no memory, no warning */ }

  function postJSON(path, body) {
    return fetch(api + path, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
                               body: JSON.stringify(body), credentials: "omit", cache: "no-store" });
  }

  async function report() {
    if (stopped) return;
    const body = { state: "joined" };
    if (lastRtt !== null) body.rtt_ms = lastRtt;
    try {
      const t0 = performance.now();
      const r = await postJSON("/report", body);
      const data = await r.json().catch(() => ({}));
      if (!r.ok) {
        if (r.status >= 400 && r.status < 500 && data.error) {
          stopped = true;
          conn.className = "conn bad";
          conn.textContent = `${root.dataset.msgStopped} ${data.message}`;
          return;
        }
        throw new Error(r.status);
      }
      lastRtt = Math.round(performance.now() - t0);
      conn.className = "conn ok";
      conn.textContent = root.dataset.msgOnline;
      if (data.event_status && statusBadge.dataset.status !== data.event_status) {
        statusBadge.dataset.status = data.event_status;
        statusBadge.className = "badge " + data.event_status;
        statusBadge.textContent = statusLabels[data.event_status] || data.event_status;
      }
    } catch (_) {
      conn.className = "conn bad";
      conn.textContent = root.dataset.msgOffline;
    }
    setTimeout(report, interval);
  }
  report();

  window.addEventListener("pagehide", () => {
    if (stopped || !navigator.sendBeacon) return;
    navigator.sendBeacon(api + "/report", new Blob([JSON.stringify({ state: "dropped" })], { type: "application/json" }));
  });

  // Attendance
  const form = document.getElementById("attendance-form");
  const msg = document.getElementById("attendance-msg");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = document.getElementById("attendance").value.trim();
    msg.className = "";
    try {
      const r = await postJSON("/attendance", { attendance: value });
      const data = await r.json().catch(() => ({}));
      msg.className = r.ok ? "ok" : "error";
      msg.textContent = data.message || r.status;
    } catch (_) {
      msg.className = "error";
      msg.textContent = root.dataset.msgOffline;
    }
  });

  // Pre-flight check
  function result(id, ok, text) {
    const li = document.getElementById(id);
    li.className = ok === null ? "" : ok ? "ok" : "bad";
    li.querySelector(".result").textContent = text;
  }

  async function checkNetwork() {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      try {
        await fetch(root.dataset.pingUrl + "?n=" + i, { cache: "no-store", credentials: "omit" });
        times.push(performance.now() - t0);
      } catch (_) { /* counted as missing */ }
    }
    if (!times.length) { result("check-network", false, root.dataset.msgFail); return; }
    times.sort((a, b) => a - b);
    const median = Math.round(times[Math.floor(times.length / 2)]);
    lastRtt = median;
    const text = root.dataset.msgRtt.replace("%(ms)s", median);
    result("check-network", median < 400, median < 400 ? text : `${text}: ${root.dataset.msgSlow}`);
  }

  async function checkDevices() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (err) {
      const text = err && err.name === "NotAllowedError" ? root.dataset.msgDenied : root.dataset.msgFail;
      result("check-camera", false, text);
      result("check-mic", false, text);
      return;
    }
    const video = document.getElementById("preview");
    video.srcObject = stream;
    video.hidden = false;
    result("check-camera", stream.getVideoTracks().length > 0, stream.getVideoTracks().length ? root.dataset.msgOk : root.dataset.msgFail);
    const audioTrack = stream.getAudioTracks()[0];
    if (!audioTrack) { result("check-mic", false, root.dataset.msgFail); return; }
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(new MediaStream([audioTrack])).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    const meter = document.getElementById("mic-level");
    let peak = 0;
    const started = performance.now();
    (function tick() {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const level = Math.min(1, Math.sqrt(sum / data.length) * 4);
      meter.value = level;
      peak = Math.max(peak, level);
      if (performance.now() - started < 3000) requestAnimationFrame(tick);
      else result("check-mic", peak > 0.01, peak > 0.01 ? root.dataset.msgOk : root.dataset.msgFail);
    })();
  }

  function checkSpeakers() {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      gain.gain.value = 0.2;
      osc.frequency.value = 440;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 1.2);
      result("check-speakers", null, root.dataset.msgHeard);
      document.getElementById("heard").hidden = false;
    } catch (_) { result("check-speakers", false, root.dataset.msgFail); }
  }
  document.getElementById("heard-yes").addEventListener("click", () => {
    document.getElementById("heard").hidden = true; result("check-speakers", true, root.dataset.msgOk);
  });
  document.getElementById("heard-no").addEventListener("click", () => {
    document.getElementById("heard").hidden = true; result("check-speakers", false, root.dataset.msgFail);
  });

  document.getElementById("run-check").addEventListener("click", async () => {
    checkSpeakers();
    await Promise.all([checkDevices(), checkNetwork()]);
  });
})();
