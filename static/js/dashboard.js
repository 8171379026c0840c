// Behaviour shared by every dashboard page, kept out of the markup so the pages can run under a
// Content-Security-Policy that allows no inline script:
//   <form data-confirm="Sure?">    asks before submitting (or a submit button's data-confirm)
//   <select data-autosubmit>       submits its form when changed
//   <button data-menu-toggle>      opens and closes the sidebar's menu on a narrow screen
//                                  (the sidebar gets the class "menu-open", app.css shows it)
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-menu-toggle]");
    var sidebar = button && button.closest(".sidebar");
    if (!sidebar) return;
    var open = sidebar.classList.toggle("menu-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
                   (form.getAttribute && form.getAttribute("data-confirm"));
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });
})();
