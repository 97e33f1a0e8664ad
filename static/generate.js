// The generate page: mode switching, reference uploads (drop, paste, choose), previews.
(function () {
  "use strict";
  var form = document.getElementById("generate-form");
  if (!form) return;
  var slots = Array.prototype.slice.call(document.querySelectorAll(".ref-slot"));
  var hidden = document.getElementById("images");
  var fileInput = document.getElementById("ref-file");
  var errorBox = document.getElementById("upload-error");
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]) || "";

  function mode() { return (form.querySelector("input[name=type]:checked") || {}).value || "t2i"; }
  function maxRefs() { return mode() === "i2i" ? 3 : mode() === "i2v" ? 2 : 0; }

  function applyMode() {
    var m = mode();
    form.querySelectorAll("[data-for]").forEach(function (el) {
      var on = el.getAttribute("data-for").split(" ").indexOf(m) >= 0;
      if (el.tagName === "OPTION") { el.hidden = !on; el.disabled = !on; } else { el.hidden = !on; }
    });
    form.querySelectorAll("[data-" + m + "]").forEach(function (el) { el.textContent = el.getAttribute("data-" + m); });
    slots.forEach(function (s) { s.hidden = s.getAttribute("data-only") && s.getAttribute("data-only") !== m; });
    var size = document.getElementById("size");
    if (size.selectedOptions[0] && size.selectedOptions[0].disabled) {
      var first = Array.prototype.find.call(size.options, function (o) { return !o.disabled; });
      if (first) size.value = first.value;
    }
    var model = document.getElementById("model");
    Array.prototype.forEach.call(model.options, function (o) {
      o.disabled = o.getAttribute("data-kinds").split(" ").indexOf(m) < 0;
    });
    if (model.selectedOptions[0] && model.selectedOptions[0].disabled) {
      var usable = Array.prototype.find.call(model.options, function (o) { return !o.disabled; });
      if (usable) model.value = usable.value;
    }
    sync();
  }

  function sync() {
    var ids = [];
    slots.forEach(function (s, i) { if (i < maxRefs() && !s.hidden && s.dataset.id) ids.push(s.dataset.id); });
    hidden.value = ids.join(",");
  }

  function fill(slot, id, url) {
    slot.dataset.id = id;
    var old = slot.querySelector(".ref-preview");
    if (old) old.remove();
    var wrap = document.createElement("div");
    wrap.className = "ref-preview";
    var img = document.createElement("img");
    img.src = url; img.alt = "";
    var remove = document.createElement("button");
    remove.type = "button"; remove.className = "ref-remove"; remove.textContent = "×";
    remove.setAttribute("aria-label", "remove");
    remove.addEventListener("click", function () { delete slot.dataset.id; wrap.remove(); sync(); });
    wrap.appendChild(img); wrap.appendChild(remove);
    slot.appendChild(wrap);
    sync();
  }

  function upload(file) {
    var free = slots.filter(function (s, i) { return i < maxRefs() && !s.hidden && !s.dataset.id; })[0];
    if (!free || !file) return;
    errorBox.hidden = true;
    free.classList.add("busy");
    fetch("/generate/upload", { method: "POST", body: file, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (env) {
        free.classList.remove("busy");
        if (env.code !== 200) { errorBox.textContent = env.message; errorBox.hidden = false; return; }
        fill(free, env.data.file_id, env.data.file_url);
      })
      .catch(function () { free.classList.remove("busy"); errorBox.textContent = "Upload failed"; errorBox.hidden = false; });
  }

  form.querySelectorAll("input[name=type]").forEach(function (r) { r.addEventListener("change", applyMode); });
  var zone = document.getElementById("drop-zone");
  zone.addEventListener("click", function (e) { if (e.target !== fileInput) fileInput.click(); });
  zone.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } });
  fileInput.addEventListener("change", function () { Array.prototype.forEach.call(fileInput.files, upload); fileInput.value = ""; });
  ["dragenter", "dragover"].forEach(function (t) { zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); }); });
  ["dragleave", "drop"].forEach(function (t) { zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); }); });
  zone.addEventListener("drop", function (e) { Array.prototype.forEach.call(e.dataTransfer.files, upload); });
  document.addEventListener("paste", function (e) {
    if (!maxRefs()) return;
    Array.prototype.forEach.call(e.clipboardData.files || [], upload);
  });
  var strength = document.getElementById("strength");
  strength.addEventListener("input", function () { document.getElementById("strength-out").value = strength.value; });
  form.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful && e.detail.target && e.detail.target.id === "tasks") {
      document.getElementById("gen-error").innerHTML = "";
    }
  });
  applyMode();
})();
