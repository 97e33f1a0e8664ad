// 生成记录 and its detail page: selection for bulk actions, drag and drop of results onto
// folders, the phone's filter panel, collapsible folders, and keys on the detail page.
(function () {
  "use strict";
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]) || "";

  // A notice (?deleted=3) is said once: a reload or a shared link does not repeat it.
  if (/[?&](deleted|folder_deleted)=/.test(location.search)) {
    var kept = location.search.slice(1).split("&").filter(function (p) {
      return p && !/^(deleted|folder_deleted)=/.test(p);
    }).join("&");
    history.replaceState(history.state, "", location.pathname + (kept ? "?" + kept : "") + location.hash);
  }

  // The share link selects itself, ready to copy.
  document.addEventListener("focusin", function (e) {
    if (e.target.classList && e.target.classList.contains("share-url")) e.target.select();
  });

  // ---- detail page ----
  var copy = document.getElementById("copy-prompt");
  if (copy) {
    copy.addEventListener("click", function () {
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy);
      copy.textContent = copy.dataset.copied;
    });
  }
  // ← → move between results, unless someone is typing or seeking in the video.
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.defaultPrevented) return;
    var tag = (e.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select", "video", "audio"].indexOf(tag) >= 0 || e.target.isContentEditable) return;
    var link = e.key === "ArrowLeft" ? document.getElementById("prev-result")
      : e.key === "ArrowRight" ? document.getElementById("next-result") : null;
    if (link) { e.preventDefault(); location.href = link.href; }
  });

  // ---- the list ----
  var ids = document.getElementById("bulk-ids");
  if (!ids) return;

  // On a phone the folders and the filters beyond search wait behind one button.
  var library = document.getElementById("library");
  var toggle = document.getElementById("panels-toggle");
  toggle.addEventListener("click", function () {
    var open = library.classList.toggle("panels-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // Folders remember being folded, per browser.
  var folded = {};
  try { folded = JSON.parse(localStorage.getItem("pd.folded") || "{}"); } catch (e) { folded = {}; }
  document.querySelectorAll("details[data-folder-node]").forEach(function (d) {
    if (folded[d.dataset.folderNode]) d.open = false;
    d.addEventListener("toggle", function () {
      if (d.open) delete folded[d.dataset.folderNode]; else folded[d.dataset.folderNode] = 1;
      try { localStorage.setItem("pd.folded", JSON.stringify(folded)); } catch (e) { /* private mode */ }
    });
  });

  // After a bulk delete, come back to the list as it is filtered now.
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.path === "/library/delete") e.detail.parameters.next = location.pathname + location.search;
  });

  function picked() {
    return Array.prototype.map.call(document.querySelectorAll(".pick-box:checked"), function (b) { return b.value; });
  }
  function sync() {
    var list = picked();
    ids.value = list.join(",");
    document.getElementById("selected-count").textContent = list.length;
    document.getElementById("bulk-move").disabled = !list.length;
    document.getElementById("bulk-delete").disabled = !list.length;
    document.getElementById("bulk-bar").classList.toggle("active", list.length > 0);
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
