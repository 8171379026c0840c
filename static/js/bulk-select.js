// Bulk actions on a list (the invoice list's "Finalize", "Send", "Delete drafts"), kept out of
// the markup for the Content-Security-Policy:
//   <input type="checkbox" data-select-all="bulk-form">  ticks every box of that form
// (a button's data-confirm is asked by dashboard.js)
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    var formId = box.getAttribute && box.getAttribute("data-select-all");
    if (!formId) { return; }
    var boxes = document.querySelectorAll('input[type="checkbox"][form="' + formId + '"]');
    Array.prototype.forEach.call(boxes, function (other) { other.checked = box.checked; });
  });
})();
