// Small page-wide behaviour: surface htmx failures that could not be shown in place.
(function () {
  "use strict";
  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = message;
    box.classList.add("show");
    clearTimeout(box._hide);
    box._hide = setTimeout(function () { box.classList.remove("show"); }, 6000);
  }
  window.phonetreeToast = toast;
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr.status;
    if (status >= 500) toast("Something went wrong on our side (" + status + "). Nothing was lost; please try again.");
  });
  // A name cut by CSS (an ellipsis) shows in full on hover, also where it is drawn by script (canvas cards).
  document.addEventListener("mouseover", function (evt) {
    var el = evt.target.closest && evt.target.closest(".nc-name, .ellipsis");
    if (!el) return;
    var cut = !el.hasAttribute("title") && el.scrollWidth > el.clientWidth;
    if (cut || el.classList.contains("nc-name")) el.setAttribute("title", el.textContent.trim()); // cards get renamed
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Phonetree could not be reached. Check your connection; nothing was lost.");
  });

  // The Content-Security-Policy allows no inline handlers: small behaviours are data attributes.
  document.addEventListener("click", function (evt) {
    var el = evt.target.closest("[data-open-dialog], [data-close-dialog], [data-clear], [data-select-all]");
    if (!el) return;
    if (el.hasAttribute("data-open-dialog")) {
      var dialog = document.getElementById(el.getAttribute("data-open-dialog"));
      if (dialog) dialog.showModal();
    } else if (el.hasAttribute("data-close-dialog")) {
      var open = el.closest("dialog");
      if (open) open.close();
    } else if (el.hasAttribute("data-clear")) {
      evt.preventDefault();
      var target = document.getElementById(el.getAttribute("data-clear"));
      if (target) target.innerHTML = "";
    } else {
      el.select();
    }
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.matches("[data-autosubmit]") && evt.target.form) evt.target.form.submit();
  });
  document.addEventListener("submit", function (evt) {
    if (evt.target.matches("[data-no-submit]")) evt.preventDefault();
  });
})();
