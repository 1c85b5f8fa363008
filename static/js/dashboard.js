// Dashboard: a publish marker (or its link in the list) opens that revision's changes in place.
// Links keep working without script (they open the diff as a page); SVG links are not HTML anchors,
// so htmx's own handling would also follow them: this handler fetches the panel through htmx instead.
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("[data-revision-diff]");
    if (!link || !window.htmx || evt.ctrlKey || evt.metaKey || evt.shiftKey) return;
    var panel = document.getElementById("revision-diff");
    if (!panel) return;
    evt.preventDefault();
    var url = link.getAttribute("href") || link.getAttributeNS("http://www.w3.org/1999/xlink", "href");
    window.htmx.ajax("GET", url, { target: "#revision-diff", swap: "innerHTML" }).then(function () {
      panel.focus();
    });
  });
})();
