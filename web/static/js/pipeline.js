// Live pipeline progress on a recording page: poll the JSON status until every stage has settled.
(function () {
  const box = document.getElementById("pipeline");
  if (!box) return;
  const url = box.dataset.statusUrl;
  const settled = (s) => s === "done" || s === "skipped" || s === "failed";
  async function tick() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch (_) { setTimeout(tick, 3000); return; }
    for (const st of data.stages) {
      const li = box.querySelector(`[data-stage="${st.stage}"]`);
      if (!li) continue;
      li.className = "stage " + st.status;
      li.querySelector(".state").textContent = st.status_label;
      li.querySelector(".bar").style.width = st.percent + "%";
      li.querySelector(".label").textContent = Math.round(st.percent) + "%";
      const msg = li.querySelector(".message");
      msg.textContent = st.message || "";
      msg.hidden = !st.message;
      const retry = li.querySelector(".retry");
      if (retry) retry.hidden = st.status !== "failed";
    }
    const status = document.getElementById("event-status");
    status.className = "badge " + data.event_status;
    status.textContent = data.event_status_label;
    if (data.portal_url) {
      const link = document.getElementById("portal-link");
      link.querySelector("a").href = data.portal_url;
      link.hidden = false;
    }
    if (!data.stages.every((s) => settled(s.status))) setTimeout(tick, 1000);
  }
  tick();
})();
