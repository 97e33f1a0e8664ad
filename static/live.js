// The studio's live cards. One EventSource per page; the server sends a card only when one of
// its tasks changed, and it replaces the element with the same id. A card someone is playing,
// pointing at or using waits until they stop. Cards of tasks made elsewhere (another tab, the
// API) are put in their place by time.
(function () {
  "use strict";
  var list = document.getElementById("tasks");
  if (!list || !window.EventSource) return;
  var url = list.getAttribute("data-live");
  var keep = parseInt(list.getAttribute("data-keep"), 10) || 12;
  var waiting = {}; // card id -> newer card held back while the old one is busy

  function tasks() { return document.getElementById("tasks"); }

  function busy(el) {
    if (el.matches(":hover") || el.contains(document.activeElement)) return true;
    return Array.prototype.some.call(el.querySelectorAll("video"), function (v) {
      return !v.paused && !v.ended;
    });
  }

  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function made(el) { return parseInt(el.getAttribute("data-made"), 10) || 0; }

  // Newest first: before the first card made earlier than this one.
  function insert(card) {
    var box = tasks();
    var cards = box.querySelectorAll(".task-card");
    var before = Array.prototype.find.call(cards, function (c) { return made(c) < made(card); });
    if (!before && cards.length >= keep) return false; // older than everything shown
    box.insertBefore(card, before || null);
    var empty = box.querySelector(".empty-tasks");
    if (empty) empty.remove();
    var all = box.querySelectorAll(".task-card");
    for (var i = all.length - 1; i >= keep; i--) if (!busy(all[i])) all[i].remove();
    return true;
  }

  // Puts `card` on the page; answers whether it is there now.
  function place(card) {
    if (!card || !card.id) return false;
    var old = document.getElementById(card.id);
    if (old && busy(old)) { waiting[card.id] = card; return false; }
    delete waiting[card.id];
    if (old) old.replaceWith(card); else if (!insert(card)) return false;
    if (window.htmx) window.htmx.process(card);
    return true;
  }

  function flush() {
    Object.keys(waiting).forEach(function (id) {
      var old = document.getElementById(id);
      if (!old) { delete waiting[id]; return; }
      if (!busy(old)) place(waiting[id]);
    });
  }
  ["pause", "ended"].forEach(function (t) { document.addEventListener(t, flush, true); });
  document.addEventListener("mouseout", function () { setTimeout(flush, 0); });
  document.addEventListener("focusout", function () { setTimeout(flush, 0); });
  setInterval(flush, 1000);

  // The whole list again (after a reconnect or when the stream fell behind), card by card.
  function refresh() {
    fetch("/generate/tasks", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var fresh = parse(html);
        if (!fresh) return;
        Array.prototype.slice.call(fresh.querySelectorAll(".task-card")).reverse().forEach(place);
      })
      .catch(function () { /* the stream retries, and refreshes when it is back */ });
  }

  // A submit or retry answers with its card: placed like a pushed one (the push may have come
  // first), and scrolled into view where the list is below the form (phones).
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "tasks" || !e.detail.xhr || e.detail.xhr.status >= 300) return;
    e.detail.shouldSwap = false;
    var card = parse(e.detail.serverResponse || "");
    if (!card) return;
    place(card);
    var shown = document.getElementById(card.id);
    if (!shown) return;
    var box = shown.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight - 80) {
      shown.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  });

  var source = new EventSource(url);
  var opened = 0;
  source.addEventListener("open", function () { if (opened++ > 0) refresh(); });
  source.addEventListener("card", function (e) { place(parse(e.data)); });
  source.addEventListener("gone", function (e) {
    var el = document.getElementById(e.data);
    if (el) el.remove();
    delete waiting[e.data];
  });
  source.addEventListener("reload", refresh);
  // The server refused the stream (a network drop retries instead). If this browser is signed
  // out or banned, loading the page again lands on the login page, which says why.
  source.addEventListener("error", function () {
    if (source.readyState !== EventSource.CLOSED) return;
    fetch("/generate/tasks", { credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected && new URL(r.url).pathname === "/login") window.location.reload();
      })
      .catch(function () { /* the server is away; nothing to say yet */ });
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
