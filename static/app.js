// PictureDeck UI glue: htmx response handling + "send code" countdown buttons.
(function () {
  "use strict";
  if (window.htmx) {
    // Swap 4xx (e.g. 422 validation errors) like successes so inline form errors render.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[4]..", swap: true, error: false },
      // A server error would put a whole error page into a fragment: keep the page, say so.
      { code: "...", swap: false, error: true }
    ];
    var toast = function (text) {
      var box = document.getElementById("toast");
      if (!box) {
        box = document.createElement("div");
        box.id = "toast";
        box.className = "toast";
        box.setAttribute("role", "alert");
        document.body.appendChild(box);
      }
      box.textContent = text;
      box.hidden = false;
      clearTimeout(box.timer);
      box.timer = setTimeout(function () { box.hidden = true; }, 6000);
    };
    document.body.addEventListener("htmx:responseError", function () { toast(document.body.dataset.requestFailed); });
    document.body.addEventListener("htmx:sendError", function () { toast(document.body.dataset.offline); });
  }
  var until = {}; // button id -> timestamp (ms) when its countdown ends
  function tick() {
    var now = Date.now();
    document.querySelectorAll("button[data-countdown]").forEach(function (b) {
      if (!b.dataset.label) b.dataset.label = b.textContent.trim();
      var left = Math.ceil(((until[b.id] || 0) - now) / 1000);
      if (left > 0) { b.disabled = true; b.textContent = b.dataset.label + " (" + left + "s)"; }
      else if (until[b.id]) { delete until[b.id]; b.disabled = false; b.textContent = b.dataset.label; }
    });
  }
  document.addEventListener("htmx:afterRequest", function (e) {
    var b = e.detail.elt, s = e.detail.xhr ? e.detail.xhr.status : 0;
    if (!b || !b.hasAttribute || !b.hasAttribute("data-countdown") || s < 200 || s >= 300) return;
    until[b.id] = Date.now() + 1000 * (parseInt(b.getAttribute("data-countdown"), 10) || 60);
    tick();
  });
  document.addEventListener("htmx:afterSettle", tick);
  // Behaviour that templates would otherwise write inline (the Content-Security-Policy
  // allows no inline script): data-then-go, share links that select themselves, copy buttons.
  document.addEventListener("htmx:afterRequest", function (e) {
    var f = e.detail.elt;
    if (f && f.dataset && f.dataset.thenGo && e.detail.successful) location.href = f.dataset.thenGo;
  });
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t.matches && t.matches("input.share-url")) t.select();
    if (t.matches && t.matches("button[data-copy]")) {
      if (navigator.clipboard) navigator.clipboard.writeText(t.dataset.copy);
      if (t.dataset.copied) t.textContent = t.dataset.copied;
    }
  });
  setInterval(tick, 1000);
})();
