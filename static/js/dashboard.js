// Behaviour shared by every dashboard page, kept out of the markup so the pages can run under a
// Content-Security-Policy that allows no inline script:
//   <form data-confirm="Sure?">    asks before submitting
//   <select data-autosubmit>       submits its form when changed
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
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
