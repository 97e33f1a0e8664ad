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
  setInterval(tick, 1000);
})();

// Times: <time class="reltime" datetime="…Z"> reads "3 分钟前" / "3 minutes ago" for the last week
// and the local date and time otherwise; the exact local time is in its tooltip.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "zh-CN";
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  var steps = [["second", 60], ["minute", 60], ["hour", 24], ["day", 7]];
  function relative(then) {
    var diff = (then - Date.now()) / 1000;
    // A time to come (a link's expiry) reads better as a date: "有效至 12/08 14:00".
    if (diff > 60) return null;
    for (var i = 0; i < steps.length; i++) {
      if (Math.abs(diff) < steps[i][1]) {
        return steps[i][0] === "second" ? rtf.format(0, "second") : rtf.format(Math.round(diff), steps[i][0]);
      }
      diff /= steps[i][1];
    }
    return null;
  }
  function render(root) {
    (root || document).querySelectorAll("time.reltime[datetime]").forEach(function (el) {
      var then = new Date(el.getAttribute("datetime"));
      if (isNaN(then)) return;
      var local = then.toLocaleString(lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
      el.title = local;
      el.textContent = (rtf && relative(then.getTime())) || local;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { render(); });
  document.addEventListener("htmx:afterSettle", function (e) { render(e.target); });
  setInterval(render, 60000);
})();
