/* The line screen's hand-over notes: the list is drawn by the server (the same partial as the first
 * paint) and fetched again every minute, so a note written elsewhere reaches an always-on screen. */
(function () {
  "use strict";

  var box = document.getElementById("handover");
  if (!box) return;
  var EVERY_MS = 60000;

  function refresh() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var list = document.getElementById("handover-list");
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("handover-list");
        if (!list || !fresh) return;
        list.replaceWith(fresh);
        box.querySelector('[data-field="note-count"]').textContent = fresh.dataset.count;
      })
      .catch(function () { /* offline: the next minute tries again */ });
  }

  setInterval(refresh, EVERY_MS);
})();
