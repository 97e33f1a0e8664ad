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
      // A choice that does not apply to this mode is not sent with it.
      if (!on) el.querySelectorAll("select[data-reset]").forEach(function (s) { s.value = ""; });
    });
    form.querySelectorAll("[data-" + m + "]").forEach(function (el) { el.textContent = el.getAttribute("data-" + m); });
    slots.forEach(function (s) { s.hidden = s.getAttribute("data-only") && s.getAttribute("data-only") !== m; });
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

  // A picture made here carries its recipe (PNG iTXt "picturedeck"): dropping it on the
  // prompt fills the form again.
  function recipe(buffer) {
    var bytes = new Uint8Array(buffer), view = new DataView(buffer), at = 8;
    var sig = [137, 80, 78, 71, 13, 10, 26, 10];
    for (var i = 0; i < 8; i++) if (bytes[i] !== sig[i]) return null;
    while (at + 12 <= bytes.length) {
      var len = view.getUint32(at), type = String.fromCharCode.apply(null, bytes.subarray(at + 4, at + 8));
      if (type === "iTXt") {
        var data = bytes.subarray(at + 8, at + 8 + len), key = "picturedeck";
        if (String.fromCharCode.apply(null, data.subarray(0, key.length)) === key && data[key.length] === 0) {
          var p = key.length + 3;
          while (data[p] !== 0 && p < data.length) p++; p++;
          while (data[p] !== 0 && p < data.length) p++; p++;
          try { return JSON.parse(new TextDecoder().decode(data.subarray(p))); } catch (e) { return null; }
        }
      }
      if (type === "IEND") break;
      at += 12 + len;
    }
    return null;
  }
  function reuse(r) {
    var radio = document.getElementById("mode-" + r.type);
    if (radio) { radio.checked = true; applyMode(); }
    document.getElementById("prompt").value = r.prompt || "";
    var p = r.params || {};
    var set = function (name, value) { var el = form.querySelector("[name=" + name + "]"); if (el && value !== undefined && value !== null) el.value = value; };
    // A recipe made from an aspect ratio brings that back; an older one its exact size.
    var byAspect = p.aspect || p.resolution;
    set("model", r.model); set("size", byAspect ? "" : p.size); set("aspect", p.aspect || "");
    set("resolution", p.resolution || ""); set("seed", p.seed); set("style", p.style);
    set("strength", p.strength); set("duration", p.duration); set("negative_prompt", p.negative_prompt);
  }
  ["aspect", "resolution"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", function () { document.getElementById("size").value = ""; });
  });
  var prompt = document.getElementById("prompt");
  ["dragenter", "dragover"].forEach(function (t) { prompt.addEventListener(t, function (e) { e.preventDefault(); }); });
  prompt.addEventListener("drop", function (e) {
    var file = e.dataTransfer.files[0];
    if (!file) return;
    e.preventDefault();
    file.arrayBuffer().then(function (buf) {
      var r = recipe(buf);
      if (r) reuse(r); else if (maxRefs()) upload(file);
    });
  });

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
  // Ctrl+Enter (⌘+Enter on a Mac) submits from anywhere in the form.
  form.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();
    var button = document.getElementById("generate-submit");
    if (!button.disabled) form.requestSubmit(button);
  });
  var strength = document.getElementById("strength");
  strength.addEventListener("input", function () { document.getElementById("strength-out").value = strength.value; });
  form.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful && e.detail.target && e.detail.target.id === "tasks") {
      document.getElementById("gen-error").innerHTML = "";
    }
  });
  applyMode();
  if (form.dataset.reuse) {
    try { reuse(JSON.parse(form.dataset.reuse)); } catch (e) { /* a broken recipe leaves the form empty */ }
  }
})();
