// The public gallery: video cards play muted while hovered, the work's picture zooms, and
// "copy link" copies the work's address.
(function () {
  "use strict";
  function card(e) {
    return e.target && e.target.closest ? e.target.closest(".g-video[data-video]") : null;
  }
  document.addEventListener("mouseover", function (e) {
    var box = card(e);
    if (!box || box.querySelector("video")) return;
    var v = document.createElement("video");
    v.muted = true;
    v.loop = true;
    v.playsInline = true;
    v.setAttribute("muted", "");
    v.src = box.dataset.video;
    v.className = "g-hover-video";
    box.appendChild(v);
    var p = v.play();
    if (p && p.catch) p.catch(function () {});
  });
  document.addEventListener("mouseout", function (e) {
    var box = card(e);
    if (!box || (e.relatedTarget && box.contains(e.relatedTarget))) return;
    var v = box.querySelector("video");
    if (v) { v.pause(); v.remove(); }
  });
  document.addEventListener("click", function (e) {
    var img = e.target.closest && e.target.closest(".g-zoomable");
    if (img) { img.closest(".g-stage").classList.toggle("zoomed"); return; }
    var b = e.target.closest && e.target.closest("[data-copy]");
    if (!b || !navigator.clipboard) return;
    navigator.clipboard.writeText(b.dataset.copy).then(function () {
      var label = b.textContent;
      b.textContent = b.dataset.copied;
      setTimeout(function () { b.textContent = label; }, 1500);
    });
  });
})();
