// The printable sheet of every site: ask for it, then follow the job's progress until it can be downloaded.
(function () {
  const box = document.getElementById("sheet");
  if (!box) return;
  const labels = {
    none: _("Not prepared yet."), queued: _("Waiting for a worker…"), running: _("Preparing…"), done: _("Ready."),
    failed: _("Preparing the sheet failed. Try again."),
  };
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const bar = box.querySelector(".bar");
  const label = box.querySelector(".label");
  const state = box.querySelector(".state");
  const make = document.getElementById("sheet-make");
  const download = document.getElementById("sheet-download");
  let timer = null;

  function show(data) {
    const percent = data.state === "done" ? 100 : data.percent || 0;
    box.dataset.state = data.state;
    bar.style.width = percent + "%";
    label.textContent = Math.round(percent) + "%";
    state.textContent = labels[data.state] || data.state;
    download.hidden = data.state !== "done";
    make.hidden = data.state === "done";
    make.disabled = data.state === "queued" || data.state === "running";
    if ((data.state === "queued" || data.state === "running") && !timer) timer = setTimeout(poll, 1000);
  }

  async function poll() {
    timer = null;
    try {
      const r = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!r.ok) throw new Error(r.status);
      show(await r.json());
    } catch (_) { timer = setTimeout(poll, 3000); }
  }

  make.addEventListener("click", async () => {
    make.disabled = true;
    const r = await fetch(box.dataset.requestUrl, { method: "POST", credentials: "same-origin",
                                                    headers: { "X-CSRFToken": csrf, Accept: "application/json" } });
    if (r.ok) show(await r.json()); else { make.disabled = false; state.textContent = labels.failed; }
  });
  poll();
})();
