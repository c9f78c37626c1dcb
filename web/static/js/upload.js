// Drag-and-drop upload with a progress bar (XMLHttpRequest reports upload progress; fetch does not).
(function () {
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("file");
  const chosen = document.getElementById("chosen");
  const button = document.getElementById("upload-button");
  const progress = document.getElementById("upload-progress");
  const bar = progress.querySelector(".bar");
  const label = progress.querySelector(".label");
  const errorBox = document.getElementById("upload-error");
  const limit = parseInt(form.dataset.limitBytes, 10);
  let file = null;

  const showError = (message) => { errorBox.textContent = message; errorBox.hidden = false; };
  const choose = (f) => {
    errorBox.hidden = true;
    if (!f) return;
    if (f.size > limit) { showError(form.dataset.msgTooLarge); return; }
    file = f;
    chosen.textContent = f.name + " (" + (f.size / 1048576).toFixed(1) + " MB)";
    button.disabled = false;
  };
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  input.addEventListener("change", () => choose(input.files[0]));
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!file) return;
    const data = new FormData(form);
    data.set("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", document.querySelector("meta[name=csrf-token]").content);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("Accept", "application/json");
    progress.hidden = false;
    button.disabled = true;
    errorBox.hidden = true;
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) return;
      const pct = Math.round((ev.loaded / ev.total) * 100);
      bar.style.width = pct + "%";
      label.textContent = pct < 100 ? pct + "%" : form.dataset.msgChecking;
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON: fall through */ }
      if (xhr.status === 201 && body.url) { window.location = body.url; return; }
      progress.hidden = true;
      button.disabled = false;
      showError(body.message || ("HTTP " + xhr.status));
    });
    xhr.addEventListener("error", () => { progress.hidden = true; button.disabled = false; showError(form.dataset.msgNetwork); });
    xhr.send(data);
  });
})();
