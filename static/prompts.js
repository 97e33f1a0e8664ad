// Prompt help in the generation form (templates/prompts/_tools.html): templates with
// placeholders, style presets, the prompt history, and the assistant's expand and 中/EN.
// Every text comes back from the server and goes into the form as a value, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("generate-form");
  var tools = document.getElementById("prompt-tools");
  if (!form || !tools) return;
  var prompt = document.getElementById("prompt");
  var negative = form.querySelector("[name=negative_prompt]");
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]) || "";
  var appliedPreset = "";
  var undoText = null;
  // The last translation: toggling back restores the original while the prompt is unchanged.
  var lastTranslation = null;

  function $(id) { return document.getElementById(id); }

  function setPrompt(text) {
    prompt.value = text;
    prompt.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function showError(message) {
    var box = $("pt-error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function offerUndo(note, previous) {
    undoText = previous;
    $("pt-undo-text").textContent = note;
    $("pt-undo-bar").hidden = false;
  }

  // POSTs form fields to a page endpoint; resolves with the envelope's data, or shows its message.
  function post(path, fields) {
    showError("");
    return fetch(path, {
      method: "POST", credentials: "same-origin", body: new URLSearchParams(fields),
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return { code: r.status, message: document.body.dataset.requestFailed }; });
    }).then(function (env) {
      if (env.code !== 200) { showError(env.message); throw env; }
      return env.data;
    }, function (err) {
      if (err && err.code) throw err;
      showError(document.body.dataset.offline || "offline");
      throw err;
    });
  }

  function busy(button, on) {
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.disabled = on;
    button.textContent = on ? button.dataset.busy : button.dataset.label;
  }

  function toggle(panelId, buttonId) {
    var panel = $(panelId), button = $(buttonId);
    var open = panel.hidden;
    ["pt-templates", "pt-history"].forEach(function (id) { if ($(id)) $(id).hidden = true; });
    ["pt-templates-toggle", "pt-history-toggle"].forEach(function (id) { if ($(id)) $(id).setAttribute("aria-expanded", "false"); });
    panel.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    return open;
  }

  // ---- templates ----
  function fillValues(box) {
    var fields = { csrf_token: csrf };
    box.querySelectorAll("input[data-placeholder]").forEach(function (input) {
      fields["v." + input.getAttribute("data-placeholder")] = input.value;
    });
    return fields;
  }

  function applyTemplate() {
    var box = tools.querySelector(".pt-fill");
    if (!box) return;
    post("/prompts/templates/" + encodeURIComponent(box.getAttribute("data-template")) + "/fill", fillValues(box))
      .then(function (data) {
        setPrompt(data.prompt);
        if (negative && data.negative_prompt) negative.value = data.negative_prompt;
        appliedPreset = "";
        $("pt-preset").value = "";
        $("pt-fill").innerHTML = "";
        $("pt-templates").hidden = true;
        $("pt-templates-toggle").setAttribute("aria-expanded", "false");
        prompt.focus();
      }, function () {});
  }

  // ---- presets ----
  function applyPreset(select) {
    var id = select.value;
    if (!id) return;
    post("/prompts/presets/" + encodeURIComponent(id) + "/apply", {
      prompt: prompt.value, negative_prompt: negative ? negative.value : "", previous: appliedPreset
    }).then(function (data) {
      setPrompt(data.prompt);
      if (negative) negative.value = data.negative_prompt;
      appliedPreset = id;
    }, function () { select.value = appliedPreset; });
  }

  // ---- history ----
  var searchTimer = null;
  function loadHistory(before, replacing) {
    var q = $("pt-history-q").value;
    var url = "/prompts/history?q=" + encodeURIComponent(q) + (before ? "&before=" + encodeURIComponent(before) : "");
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r); })
      .then(function (html) {
        var list = $("pt-history-list");
        if (replacing) {
          replacing.outerHTML = html;
        } else {
          list.innerHTML = html;
        }
        list.dispatchEvent(new Event("htmx:afterSettle", { bubbles: true }));
      })
      .catch(function () { showError(document.body.dataset.requestFailed); });
  }

  // ---- the assistant ----
  function languageOf(text) { return /[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]/.test(text) ? "zh" : "en"; }

  function modelLanguages() {
    var row = tools.querySelector("[data-model-languages]");
    try { return JSON.parse(row.getAttribute("data-model-languages") || "{}"); } catch (e) { return {}; }
  }

  function refreshTranslate() {
    var button = $("pt-translate"), hint = $("pt-english-hint");
    var model = document.getElementById("model");
    var wants = model ? modelLanguages()[model.value] : null;
    var lang = languageOf(prompt.value);
    if (hint) hint.hidden = !(wants === "en" && lang === "zh" && prompt.value.trim() !== "");
    if (!button || button.disabled) return;
    // An empty prompt will most likely be written in the page's language.
    var empty = prompt.value.trim() === "";
    var toEnglish = empty ? document.documentElement.lang.indexOf("zh") === 0 : lang === "zh";
    var label = toEnglish ? button.dataset.toEn : button.dataset.toZh;
    button.textContent = label;
    button.dataset.label = label;
  }

  function expand(button) {
    var before = prompt.value;
    busy(button, true);
    post("/prompts/expand", { prompt: before })
      .then(function (data) { setPrompt(data.prompt); offerUndo(button.dataset.done, before); }, function () {})
      .then(function () { busy(button, false); refreshTranslate(); });
  }

  function translate(button) {
    var before = prompt.value;
    if (lastTranslation && before === lastTranslation.to) {
      setPrompt(lastTranslation.from);
      lastTranslation = { from: before, to: lastTranslation.from };
      undoText = null;
      $("pt-undo-bar").hidden = true;
      refreshTranslate();
      return;
    }
    busy(button, true);
    post("/prompts/translate", { prompt: before, to: languageOf(before) === "zh" ? "en" : "zh" })
      .then(function (data) {
        setPrompt(data.prompt);
        lastTranslation = { from: before, to: data.prompt };
        offerUndo(button.dataset.done, before);
      }, function () {})
      .then(function () { busy(button, false); refreshTranslate(); });
  }

  // ---- wiring: the row is loaded by htmx, so events are taken where they bubble ----
  tools.addEventListener("click", function (e) {
    var t = e.target.closest("button, a");
    if (!t || !tools.contains(t)) return;
    if (t.id === "pt-templates-toggle") toggle("pt-templates", "pt-templates-toggle");
    else if (t.id === "pt-history-toggle") { if (toggle("pt-history", "pt-history-toggle")) { loadHistory(); $("pt-history-q").focus(); } }
    else if (t.id === "pt-fill-apply") applyTemplate();
    else if (t.id === "pt-fill-cancel") $("pt-fill").innerHTML = "";
    else if (t.id === "pt-expand") expand(t);
    else if (t.id === "pt-translate") translate(t);
    else if (t.id === "pt-undo") {
      if (undoText !== null) setPrompt(undoText);
      undoText = null;
      $("pt-undo-bar").hidden = true;
    } else if (t.classList.contains("pt-history-use")) {
      setPrompt(t.getAttribute("data-prompt"));
      appliedPreset = "";
      $("pt-preset").value = "";
      toggle("pt-history", "pt-history-toggle");
      prompt.focus();
    } else if (t.hasAttribute("data-before")) loadHistory(t.getAttribute("data-before"), t.closest("li"));
  });
  tools.addEventListener("change", function (e) { if (e.target.id === "pt-preset") applyPreset(e.target); });
  tools.addEventListener("input", function (e) {
    if (e.target.id !== "pt-history-q") return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { loadHistory(); }, 250);
  });
  // Enter in a placeholder field fills the prompt instead of submitting the task.
  tools.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.ctrlKey || e.metaKey) return;
    if (e.target.matches("input[data-placeholder]")) { e.preventDefault(); applyTemplate(); }
    else if (e.target.id === "pt-history-q") e.preventDefault();
  });
  // The first placeholder takes the cursor as soon as its template's fields arrive.
  tools.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.id === "pt-fill") {
      var first = e.target.querySelector("input[data-placeholder]");
      if (first) first.focus();
      else applyTemplate();
    }
    if (e.target.id === "prompt-tools") refreshTranslate();
  });
  prompt.addEventListener("input", refreshTranslate);
  var model = document.getElementById("model");
  if (model) model.addEventListener("change", refreshTranslate);
})();
