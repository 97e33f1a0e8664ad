// 生成记录: selection for bulk actions, and drag and drop of results onto folders.
(function () {
  "use strict";
  var ids = document.getElementById("bulk-ids");
  if (!ids) return;
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]) || "";
  function picked() {
    return Array.prototype.map.call(document.querySelectorAll(".pick-box:checked"), function (b) { return b.value; });
  }
  function sync() {
    var list = picked();
    ids.value = list.join(",");
    document.getElementById("selected-count").textContent = list.length;
    document.getElementById("bulk-move").disabled = !list.length;
    document.getElementById("bulk-delete").disabled = !list.length;
    var exp = document.getElementById("bulk-export");
    exp.href = list.length ? "/library/export?ids=" + encodeURIComponent(list.join(",")) : "#";
    exp.setAttribute("aria-disabled", list.length ? "false" : "true");
  }
  document.addEventListener("change", function (e) {
    if (e.target.id === "select-all") {
      document.querySelectorAll(".pick-box").forEach(function (b) { b.checked = e.target.checked; });
    }
    if (e.target.id === "select-all" || e.target.classList.contains("pick-box")) sync();
  });
  document.addEventListener("htmx:afterSettle", sync);

  // Import a ZIP exported by PictureDeck (this instance or another).
  var importFile = document.getElementById("import-file");
  if (importFile) {
    importFile.addEventListener("change", function () {
      var file = importFile.files[0];
      if (!file) return;
      var status = document.getElementById("import-status");
      status.textContent = "…";
      fetch("/library/import", { method: "POST", body: file, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/zip" } })
        .then(function (r) { return r.json(); })
        .then(function (env) {
          status.textContent = env.message + (env.data ? " (" + env.data.imported + " / " + (env.data.imported + env.data.skipped) + ")" : "");
          if (env.code === 200) setTimeout(function () { location.reload(); }, 800);
        });
    });
  }

  // Dragging a selected card moves the whole selection; otherwise just that card.
  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".result-card");
    if (!card) return;
    var list = picked();
    if (list.indexOf(card.dataset.id) < 0) list = [card.dataset.id];
    e.dataTransfer.setData("text/plain", list.join(","));
    e.dataTransfer.effectAllowed = "move";
  });
  document.querySelectorAll(".drop-target").forEach(function (target) {
    target.addEventListener("dragover", function (e) { e.preventDefault(); target.classList.add("over"); });
    target.addEventListener("dragleave", function () { target.classList.remove("over"); });
    target.addEventListener("drop", function (e) {
      e.preventDefault();
      target.classList.remove("over");
      var list = e.dataTransfer.getData("text/plain");
      if (!list) return;
      var body = new URLSearchParams({ ids: list, folder: target.dataset.folder });
      fetch("/library/move", { method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
        .then(function (r) { if (r.ok) location.reload(); else return r.json().then(function (env) { alert(env.message); }); });
    });
  });
})();
