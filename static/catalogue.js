// The generation form follows the picked model's capabilities (GET /api/v1/models, embedded in
// #catalogue): controls it cannot take are hidden and not sent, lists offer only its values,
// a note says what is not available, and the cost line is fetched again on every change.
(function () {
  "use strict";
  var form = document.getElementById("generate-form");
  var box = document.getElementById("catalogue");
  if (!form || !box) return;
  var models = {};
  JSON.parse(box.getAttribute("data-models") || "[]").forEach(function (m) { models[m.id] = m; });
  var $ = function (id) { return document.getElementById(id); };
  var note = $("cap-note"), cost = $("cost"), images = $("images");
  var negative = form.querySelector("[name=negative_prompt]");
  var slots = Array.prototype.slice.call(form.querySelectorAll(".ref-slot"));
  // The form's own aspect list, used where a model takes any ratio.
  var aspects = Array.prototype.map.call($("aspect").options, function (o) { return o.value; }).filter(Boolean);

  function mode() { return (form.querySelector("input[name=type]:checked") || {}).value || "t2i"; }

  // Shows and sends a control only when `on`; `what` names it in the note when it is off.
  function allow(el, on, what, off) {
    var wrap = el.closest("label") || el;
    wrap.classList.toggle("cap-off", !on);
    el.disabled = !on;
    if (!on && what) off.push(what);
  }

  // Rebuilds a select's options from `values`, keeping its choice if still offered, else `fallback`.
  function offer(select, values, text, blank, fallback) {
    var wanted = (blank !== null ? [""] : []).concat(values.map(String));
    var have = Array.prototype.map.call(select.options, function (o) { return o.value; });
    // Options a person may be clicking on are only replaced when the list changes.
    if (wanted.join("\n") === have.join("\n")) return;
    var was = select.value;
    select.innerHTML = "";
    if (blank !== null) select.add(new Option(blank, ""));
    values.forEach(function (v) { select.add(new Option(text(v), String(v))); });
    var keep = Array.prototype.some.call(select.options, function (o) { return o.value === was; });
    var first = select.options[0] ? select.options[0].value : "";
    select.value = keep ? was : (fallback === undefined || fallback === null ? first : String(fallback));
  }

  function adapt() {
    var m = models[$("model").value];
    if (!m) return;
    var c = m.capabilities, k = mode(), video = k === "t2v" || k === "i2v", off = [];
    var d = box.dataset;
    allow($("seed"), c.seed, d.seed, off);
    allow(negative, c.negative_prompt, d.negative, off);
    allow($("strength"), k === "i2i" && c.strength, k === "i2i" && d.strength, off);
    allow($("style"), k === "i2i" && c.styles.length > 0, k === "i2i" && d.style, off);
    Array.prototype.forEach.call($("style").options, function (o) {
      var on = o.value === "auto" || c.styles.indexOf(o.value) >= 0;
      o.hidden = !on; o.disabled = !on;
    });
    if ($("style").selectedOptions[0] && $("style").selectedOptions[0].disabled) $("style").value = "auto";
    var blank = $("aspect").options[0] ? $("aspect").options[0].text : "";
    offer($("aspect"), c.aspects.length ? c.aspects : aspects, String, blank);
    offer($("resolution"), c.resolutions, String, $("resolution").options[0] ? $("resolution").options[0].text : "");
    allow($("resolution"), !video || c.resolutions.length > 0, video && d.resolution, off);
    offer($("duration"), c.durations, function (s) { return s + " s"; }, null, c.default_duration);
    allow($("duration"), video && c.durations.length > 0, video && d.duration, off);
    var counts = [];
    for (var n = 1; n <= c.max_n; n++) counts.push(n);
    offer($("count"), counts, String, null, 1);
    // References past what the model takes are hidden, and dropped from the request.
    var limit = k === "i2i" || k === "i2v" ? c.max_references : 0, ids = [];
    slots.forEach(function (s, i) {
      if (i >= c.max_references) s.hidden = true;
      if (!s.hidden && s.dataset.id && ids.length < limit) ids.push(s.dataset.id);
    });
    images.value = ids.join(",");
    // The offline engine's honesty note is about that engine only.
    if ($("model-note")) $("model-note").classList.toggle("cap-off", !m.offline);
    note.textContent = off.length ? d.off + off.join(d.sep) : "";
    note.hidden = off.length === 0;
  }

  function refresh() { if (window.htmx) window.htmx.trigger(cost, "refresh"); }

  // After generate.js, whose listeners (mode, references) were added first and run first.
  form.addEventListener("change", function (e) {
    if (e.target.name === "type" || e.target.id === "model") adapt();
    refresh();
  });
  form.addEventListener("htmx:afterRequest", function (e) { if (e.detail.target && e.detail.target.id === "tasks") refresh(); });
  adapt();
  // htmx wires #cost up on DOMContentLoaded, which comes after every deferred script.
  if (document.readyState === "complete") refresh(); else document.addEventListener("DOMContentLoaded", refresh);
})();
