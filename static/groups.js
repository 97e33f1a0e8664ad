// Batches and comparisons: the launcher inside the studio's form, and a group's live page.
(function () {
  "use strict";

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) { return ""; }
  }

  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  // --- The launcher (templates/groups/_launch.html) ---
  var file = document.getElementById("prompt-file");
  if (file) {
    // The file goes alone to the server, which reads it (or says why not) into the prompt box.
    file.addEventListener("change", function () {
      if (!file.files || !file.files[0]) return;
      var body = new FormData();
      body.append("file", file.files[0]);
      var error = document.getElementById("group-error");
      fetch("/groups/prompts", {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(), "HX-Request": "true" }
      }).then(function (r) {
        return r.text().then(function (html) {
          if (r.ok && r.headers.get("HX-Retarget") !== "#group-error") {
            document.getElementById("batch-prompts").innerHTML = html;
            error.innerHTML = "";
          } else {
            error.innerHTML = html;
          }
        });
      }).catch(function () {
        error.textContent = document.body.getAttribute("data-request-failed") || "";
      }).then(function () { file.value = ""; });
    });
    // Only models that make the chosen type can be ticked.
    var fit = function () {
      var mode = document.querySelector("input[name='type']:checked");
      var m = mode ? mode.value : "t2i";
      document.querySelectorAll(".group-model").forEach(function (label) {
        var box = label.querySelector("input");
        var ok = label.getAttribute("data-kinds").split(" ").indexOf(m) >= 0;
        box.disabled = !ok;
        if (!ok) box.checked = false;
        label.classList.toggle("group-model-off", !ok);
      });
    };
    document.querySelectorAll("input[name='type']").forEach(function (r) { r.addEventListener("change", fit); });
    fit();
  }

  // --- A group's page (templates/groups/page.html) ---
  var page = document.getElementById("group-page");
  if (!page || !window.EventSource) return;

  function swap(fresh) {
    if (!fresh || !fresh.id) return;
    var old = document.getElementById(fresh.id);
    if (!old) return;
    // A pick someone ticked stays ticked.
    old.querySelectorAll("input[type='checkbox']:checked").forEach(function (box) {
      var same = fresh.querySelector("input[type='checkbox'][value='" + box.value + "']");
      if (same) same.checked = true;
    });
    old.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
  }

  // Everything again: after a reconnect or when the stream fell behind.
  function refresh() {
    fetch(location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll(".group-item").forEach(function (item) { swap(document.importNode(item, true)); });
        var p = doc.getElementById("group-progress");
        if (p) swap(document.importNode(p, true));
      })
      .catch(function () { /* the stream retries */ });
  }

  var source = new EventSource(page.getAttribute("data-live"));
  var opened = false;
  source.addEventListener("open", function () {
    if (opened) refresh();
    opened = true;
  });
  source.addEventListener("item", function (e) { swap(parse(e.data)); });
  source.addEventListener("progress", function (e) { swap(parse(e.data)); });
  source.addEventListener("reload", refresh);
  window.addEventListener("pagehide", function () { source.close(); });
})();
