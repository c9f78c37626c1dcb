// WHIP publisher (RFC 9725 style): POST the complete SDP offer, get 201 + answer + Location, DELETE to stop.
// The media server (aiortc) does not take trickled candidates, so the offer is sent once ICE gathering ends.
(function (global) {
  "use strict";

  function waitForIce(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(function (resolve) {
      var done = function () { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      var check = function () { if (pc.iceGatheringState === "complete") done(); };
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(done, timeoutMs || 2000);   // loopback/host candidates come first; do not wait for more
    });
  }

  function MediaError(code, message, status) {
    this.code = code; this.message = message; this.status = status;
  }

  async function exchange(pc, url, token) {
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    var response;
    try {
      response = await fetch(url, {
        method: "POST", body: pc.localDescription.sdp,
        headers: { "Content-Type": "application/sdp", "Authorization": "Bearer " + token },
      });
    } catch (e) {
      throw new MediaError("network", String(e), 0);
    }
    var text = await response.text();
    if (response.status !== 201) {
      var body = {};
      try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
      throw new MediaError(body.error || "server_busy", body.message || text, response.status);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: text });
    return new URL(response.headers.get("Location"), url).toString();
  }

  function WhipPublisher(url, token) {
    this.url = url; this.token = token; this.pc = null; this.resource = null;
    this.onstate = function () {};
  }

  WhipPublisher.prototype.start = async function (stream) {
    var self = this;
    var pc = this.pc = new RTCPeerConnection({ iceServers: [] });
    stream.getTracks().forEach(function (track) { pc.addTransceiver(track, { direction: "sendonly", streams: [stream] }); });
    pc.addEventListener("connectionstatechange", function () { self.onstate(pc.connectionState); });
    this.resource = await exchange(pc, this.url, this.token);
    return this.resource;
  };

  WhipPublisher.prototype.stop = async function () {
    var resource = this.resource, pc = this.pc;
    this.resource = null; this.pc = null;
    if (resource) {
      try { await fetch(resource, { method: "DELETE", headers: { "Authorization": "Bearer " + this.token } }); }
      catch (e) { /* the server drops silent peers by itself */ }
    }
    if (pc) pc.close();
  };

  global.DiemCauWhip = { WhipPublisher: WhipPublisher, exchange: exchange, MediaError: MediaError };
})(window);
