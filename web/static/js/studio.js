// Studio pages and the program player component. Needs whip.js and whep.js first.
(function () {
  "use strict";
  var Whip = window.DiemCauWhip, Whep = window.DiemCauWhep;
  var messagesEl = document.getElementById("live-messages");
  var T = messagesEl ? JSON.parse(messagesEl.textContent) : {};
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;

  function $(root, sel) { return root.querySelector(sel); }
  function text(el, value) { if (el) el.textContent = value; }
  function explain(err) { return (err && T[err.code]) || (err && err.message) || T.network; }
  function setState(el, state, err) {
    if (!el) return;
    el.dataset.state = state;
    el.textContent = (T["state_" + state] || state) + (err ? " — " + explain(err) : "");
  }
  async function postJSON(url, body) {
    var r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
                               body: JSON.stringify(body || {}) });
    var data = await r.json().catch(function () { return {}; });
    if (!r.ok) throw { code: data.error, message: data.message };
    return data;
  }
  async function camera(constraints) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints || {
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } }, audio: true });
    } catch (e) { throw { code: "camera", message: String(e) }; }
  }

  // --- program player (site pages, the watch page) ------------------------------------------------
  document.querySelectorAll("[data-live-player]").forEach(function (root) {
    var media = root.dataset.mediaUrl, eventId = root.dataset.eventId, token = root.dataset.token;
    var stateEl = $(root, ".live-state");
    var player = new Whep.WhepPlayer({
      url: media + "/whep/" + eventId, token: token, video: $(root, "video"),
      onstate: function (state, err) { setState(stateEl, state, err); root.dataset.state = state; },
      onstats: function (stats) {
        root.dataset.stats = JSON.stringify(stats);
        var s = $(root, ".live-stats");
        if (s) s.textContent = [stats.bitrate_kbps !== undefined ? stats.bitrate_kbps + " kbit/s" : "",
                                stats.rtt_ms !== undefined ? "RTT " + stats.rtt_ms + " ms" : "",
                                stats.loss_pct !== undefined ? stats.loss_pct + "% loss" : ""].filter(Boolean).join(" · ");
        if (root.dataset.reportUrl) {   // the join page's own report endpoint (live wall)
          fetch(root.dataset.reportUrl, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
                                          body: JSON.stringify(stats) }).catch(function () {});
        }
      },
    });
    player.start();
    root.livePlayer = player;
    // Floor: when the chair gives this site the floor, its camera and microphone become the program.
    if (root.dataset.sitePublish === "1") {
      var publisher = null, busy = false;
      setInterval(async function () {
        if (busy) return;
        busy = true;
        try {
          var r = await fetch(media + "/events/" + eventId + "/state", { headers: { "Authorization": "Bearer " + token } });
          var st = await r.json();
          var mine = st.floor === st.you.replace(/^site:/, "site:");
          if (mine && !publisher) {
            publisher = new Whip.WhipPublisher(media + "/whip/" + eventId, token);
            await publisher.start(await camera());
            root.dataset.publishing = "1";
            text($(root, ".live-floor"), T.state_publishing);
          } else if (!mine && publisher) {
            await publisher.stop(); publisher = null; root.dataset.publishing = "0";
            text($(root, ".live-floor"), "");
          }
        } catch (e) { text($(root, ".live-floor"), explain(e)); publisher = null; }
        busy = false;
      }, 2000);
    }
  });

  // --- host studio ------------------------------------------------------------------------------------
  var host = document.querySelector("[data-host-studio]");
  if (host) {
    var preview = $(host, "video.preview"), stateEl = $(host, ".live-state"), publisher = null, stream = null;
    var url = host.dataset.mediaUrl + "/whip/" + host.dataset.eventId;
    camera().then(function (s) { stream = s; preview.srcObject = s; }).catch(function (e) { setState(stateEl, "failed", e); });
    $(host, ".go-live").addEventListener("click", async function () {
      try {
        if (!stream) { stream = await camera(); preview.srcObject = stream; }
        publisher = new Whip.WhipPublisher(url, host.dataset.token);
        publisher.onstate = function (s) { setState(stateEl, s === "connected" ? "publishing" : s); host.dataset.state = s; };
        setState(stateEl, "connecting");
        await publisher.start(stream);
      } catch (e) { setState(stateEl, "failed", e); publisher = null; }
    });
    $(host, ".stop-live").addEventListener("click", async function () {
      if (publisher) await publisher.stop();
      publisher = null; setState(stateEl, "stopped"); host.dataset.state = "stopped";
    });
    host.querySelectorAll("[data-floor]").forEach(function (btn) {
      btn.addEventListener("click", async function () {
        var value = btn.dataset.floor === "site" ? "site:" + $(host, ".floor-site").value : "host";
        try {
          var r = await postJSON(host.dataset.floorUrl, { floor: value });
          text($(host, ".floor-current"), r.floor); host.dataset.floor = r.floor;
        } catch (e) { text($(host, ".floor-current"), explain(e)); }
      });
    });
  }

  // --- report studio ----------------------------------------------------------------------------------
  var rep = document.querySelector("[data-report-studio]");
  if (rep) {
    var video = $(rep, "video.preview"), st = $(rep, ".live-state"), countEl = $(rep, ".countdown");
    var clock = $(rep, ".take-clock"), stream2 = null, pub = null, started = 0, tick = null;
    var btnRec = $(rep, ".record"), btnStop = $(rep, ".stop"), btnRetake = $(rep, ".retake");
    function buttons(recording) { btnRec.disabled = recording; btnStop.disabled = !recording; btnRetake.disabled = !recording && !rep.dataset.took; }
    camera().then(function (s) { stream2 = s; video.srcObject = s; }).catch(function (e) { setState(st, "failed", e); });
    async function countdown(n) {
      for (var i = n; i > 0; i--) { text(countEl, T.countdown + " " + i); await new Promise(function (r) { setTimeout(r, 1000); }); }
      text(countEl, "");
    }
    async function record() {
      buttons(true);
      try {
        if (!stream2) { stream2 = await camera(); video.srcObject = stream2; }
        await countdown(parseInt(rep.dataset.countdown || "3", 10));
        var take = await postJSON(rep.dataset.takeUrl);
        pub = new Whip.WhipPublisher(take.whip, take.token);
        await pub.start(stream2);
        started = Date.now(); rep.dataset.state = "recording"; setState(st, "publishing");
        text($(rep, ".rec-badge"), "● " + T.recording);
        tick = setInterval(function () {
          var s = Math.floor((Date.now() - started) / 1000);
          text(clock, Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"));
        }, 250);
      } catch (e) { setState(st, "failed", e); buttons(false); }
    }
    async function finish(discard) {
      clearInterval(tick);
      text($(rep, ".rec-badge"), "");
      if (pub) await pub.stop();
      pub = null;
      await postJSON(rep.dataset.stopUrl, { discard: discard });
      rep.dataset.state = discard ? "discarded" : "stopped";
      setState(st, "stopped");
      if (!discard) {
        rep.dataset.took = "1";
        text($(rep, ".take-result"), T.processing);
        poll();
      } else {
        text($(rep, ".take-result"), T.take_discarded);
      }
      buttons(false);
    }
    async function poll() {
      var before = parseInt(rep.dataset.recordings || "0", 10);
      for (var i = 0; i < 60; i++) {
        await new Promise(function (r) { setTimeout(r, 1000); });
        var s = await (await fetch(rep.dataset.statusUrl)).json();
        if (s.recordings > before) {
          rep.dataset.recordings = String(s.recordings);
          var a = $(rep, ".take-link"); a.href = s.recording_url; a.hidden = false;
          text($(rep, ".take-result"), T.take_saved + " (" + s.status_label + ")");
          rep.dataset.state = "saved";
          return;
        }
      }
    }
    btnRec.addEventListener("click", record);
    btnStop.addEventListener("click", function () { finish(false); });
    btnRetake.addEventListener("click", async function () {
      if (pub) await finish(true);      // throw this take away…
      record();                         // …and record again after the countdown
    });
    buttons(false);
  }
})();
