// The new-feature form of the Entitlements page: the meter and the reset are asked only for
// the kinds that use them (<div data-show-for="metered prepaid">). Without script every field
// shows and the service ignores what the kind does not use.
(function () {
  "use strict";
  function update(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) { return; }
    form.querySelectorAll("[data-show-for]").forEach(function (box) {
      var kinds = box.getAttribute("data-show-for").split(" ");
      box.hidden = kinds.indexOf(kind.value) === -1;
    });
  }
  document.querySelectorAll("form[data-feature-form]").forEach(function (form) {
    update(form);
    form.addEventListener("change", function (event) {
      if (event.target.name === "kind") { update(form); }
    });
  });
})();
