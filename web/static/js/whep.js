// WHEP player: receives the program (H.264 + Opus) from the media server, shows its state, reconnects
// after a drop, and reports statistics (for the live wall) through an optional callback.
(function (global) {
  "use strict";
  var exchange = global.DiemCauWhip.exchange;

  function WhepPlayer(options) {
    this.url = options.url; this.token = options.token; this.video = options.video;
    this.onstate = options.onstate || function () {};
    this.onstats = options.onstats || null;
    this.pc = null; this.resource = null; this.stopped = false; this.retry = 0; this.timer = null;
    this.lastBytes = 0; this.lastTime = 0; this.lastLost = 0; this.lastReceived = 0;
  }

  WhepPlayer.prototype.start = function () {
    this.stopped = false;
    this.connect();
    var self = this;
    this.statsTimer = setInterval(function () { self.collect(); }, 2000);
  };

  WhepPlayer.prototype.connect = async function () {
    var self = this;
    this.onstate(this.retry ? "reconnecting" : "connecting");
    var pc = this.pc = new RTCPeerConnection({ iceServers: [] });
    var stream = new MediaStream();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addEventListener("track", function (ev) {
      stream.addTrack(ev.track);
      self.video.srcObject = stream;
      self.video.play().catch(function () { /* autoplay with sound may need a click */ });
    });
    pc.addEventListener("connectionstatechange", function () {
      if (pc !== self.pc) return;
      if (pc.connectionState === "connected") { self.retry = 0; self.onstate("connected"); }
      if (pc.connectionState === "failed" || pc.connectionState === "disconnected") self.scheduleReconnect();
    });
    try {
      this.resource = await exchange(pc, this.url, this.token);
    } catch (e) {
      this.onstate("failed", e);
      // A revoked or wrong link will not heal by retrying; a network drop or a not-yet-live event will.
      if (["token_invalid", "token_expired", "token_revoked", "token_wrong_event", "token_wrong_kind",
           "codec_unsupported"].indexOf(e.code) < 0) this.scheduleReconnect(e.code === "event_not_live" ? 5000 : 0);
    }
  };

  WhepPlayer.prototype.scheduleReconnect = function (delay) {
    if (this.stopped || this.timer) return;
    var self = this;
    this.retry += 1;
    this.onstate("reconnecting");
    var wait = delay || Math.min(10000, 500 * Math.pow(2, this.retry - 1));
    var old = this.pc; this.pc = null;
    if (old) old.close();
    this.timer = setTimeout(function () { self.timer = null; if (!self.stopped) self.connect(); }, wait);
  };

  WhepPlayer.prototype.collect = async function () {
    if (!this.pc || !this.onstats) return;
    var report = await this.pc.getStats(), now = Date.now(), out = { state: "receiving" };
    var bytes = 0, lost = 0, received = 0;
    report.forEach(function (s) {
      if (s.type === "inbound-rtp") { bytes += s.bytesReceived || 0; lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) out.rtt_ms = Math.round(s.currentRoundTripTime * 1000);
    });
    if (this.lastTime) {
      out.bitrate_kbps = Math.round((bytes - this.lastBytes) * 8 / (now - this.lastTime));
      var dl = lost - this.lastLost, dr = received - this.lastReceived;
      out.loss_pct = dl + dr > 0 ? Math.round(1000 * dl / (dl + dr)) / 10 : 0;
      if (out.loss_pct >= 5 || out.bitrate_kbps < 50) out.state = "degraded";
    }
    if (this.pc.connectionState !== "connected") out.state = "joined";
    this.lastBytes = bytes; this.lastTime = now; this.lastLost = lost; this.lastReceived = received;
    this.onstats(out);
  };

  WhepPlayer.prototype.stop = async function () {
    this.stopped = true;
    clearInterval(this.statsTimer);
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    var resource = this.resource, pc = this.pc;
    this.resource = null; this.pc = null;
    if (resource) {
      try { await fetch(resource, { method: "DELETE", headers: { "Authorization": "Bearer " + this.token } }); } catch (e) { /* ignore */ }
    }
    if (pc) pc.close();
    this.onstate("stopped");
  };

  global.DiemCauWhep = { WhepPlayer: WhepPlayer };
})(window);
