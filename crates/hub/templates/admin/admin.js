// The admin pages work without this script; it adds two things.
// 1. Copy buttons: <button data-copy="ID"> copies the text of element ID.
// 2. Live numbers: a section with data-poll="URL" fetches that JSON every 2 s and applies it:
//    {"text": {id: text}, "progress": {id: {received, expected}}}.
"use strict";
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("button[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (!el) return;
  var say = b.parentNode.querySelector(".copied");
  navigator.clipboard.writeText(el.textContent.trim()).then(
    function () { if (say) say.textContent = "Copied."; },
    function () {
      var r = document.createRange(); r.selectNodeContents(el);
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
      if (say) say.textContent = "Selected: press Ctrl+C to copy.";
    });
});
function apply(data) {
  var text = data.text || {}, progress = data.progress || {};
  Object.keys(text).forEach(function (id) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text[id]) el.textContent = text[id];
  });
  Object.keys(progress).forEach(function (id) {
    var el = document.getElementById(id), p = progress[id];
    if (!el) return;
    if (p.expected === null || p.expected === undefined) { el.removeAttribute("value"); return; }
    el.max = Math.max(p.expected, 1);
    el.value = p.expected === 0 ? 1 : p.received;
  });
}
document.querySelectorAll("[data-poll]").forEach(function (el) {
  var url = el.getAttribute("data-poll");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) apply(d); })
      .catch(function () {})
      .then(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 2000);
});
