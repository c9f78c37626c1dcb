// Portal player: hls.js where Media Source Extensions exist, native HLS otherwise (Safari, iOS).
(function () {
  const video = document.getElementById("player");
  if (!video) return;
  const src = video.dataset.src;
  const showError = () => {
    const box = document.getElementById("player-error");
    box.textContent = video.dataset.error;
    box.hidden = false;
  };
  if (window.Hls && Hls.isSupported()) {
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
  // The first (Vietnamese) track is shown by default: viewers on phones often watch muted.
  if (video.textTracks.length) video.textTracks[0].mode = "showing";
  document.querySelectorAll(".transcript .cue").forEach((button) => {
    button.addEventListener("click", () => {
      video.currentTime = parseFloat(button.dataset.start);
      video.play().catch(() => {});
    });
  });
})();
