// The one-off invoice form (invoicing/invoice_new.html). Without this file the form works as a
// plain formset: "Add a line" posts it back with one more row, each row has a Remove box.
// With it:
//   [data-add-line]         adds a row in place (a copy of <template data-line-template>, its
//                           __prefix__ numbered from the formset's TOTAL_FORMS, which grows)
//   [data-remove-box]       becomes a Remove button that takes its row out of the form (the
//                           row's index stays unused: an absent row is an empty one)
//   #customer-terms         the customers' currencies and terms: choosing a customer fills
//                           the currency (unless one was typed) and says its terms
(function () {
  "use strict";

  var form = document.querySelector("[data-testid=one-off-form]");
  if (!form) { return; }
  var rows = form.querySelector("[data-line-rows]");
  var template = form.querySelector("template[data-line-template]");
  var total = form.querySelector("input[name=lines-TOTAL_FORMS]");
  var maximum = form.querySelector("input[name=lines-MAX_NUM_FORMS]");

  function removable(row) {
    var box = row.querySelector("[data-remove-box]");
    if (!box || box.getAttribute("data-enhanced")) { return; }
    box.setAttribute("data-enhanced", "1");
    var checkbox = box.querySelector("input[type=checkbox]");
    if (checkbox) { checkbox.parentNode.hidden = true; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "small danger";
    button.textContent = "Remove line";
    button.setAttribute("data-testid", "remove-line");
    button.addEventListener("click", function () {
      row.parentNode.removeChild(row);
      number();
    });
    box.appendChild(button);
  }

  function number() {
    var legends = rows.querySelectorAll("[data-line-row] > legend");
    Array.prototype.forEach.call(legends, function (legend, index) {
      legend.textContent = "Line " + (index + 1);
    });
  }

  Array.prototype.forEach.call(rows.querySelectorAll("[data-line-row]"), removable);

  form.querySelector("[data-add-line]").addEventListener("click", function (event) {
    event.preventDefault();
    var index = parseInt(total.value, 10);
    if (maximum && index >= parseInt(maximum.value, 10)) { return; }
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    rows.appendChild(row);
    total.value = String(index + 1);
    removable(row);
    number();
    var first = row.querySelector("input");
    if (first) { first.focus(); }
  });

  var terms = {};
  var data = document.getElementById("customer-terms");
  if (data) { terms = JSON.parse(data.textContent); }
  var customer = form.querySelector("select[name=customer]");
  var currency = form.querySelector("input[name=currency]");
  var days = form.querySelector("input[name=payment_terms_days]");
  var filled = currency && terms[customer.value] ? terms[customer.value].currency : "";

  function chosen() {
    var known = terms[customer.value];
    if (!known) { return; }
    if (currency && (!currency.value || currency.value === filled)) {
      currency.value = known.currency;
      filled = known.currency;
    }
    if (days) { days.placeholder = "The customer's: " + known.terms; }
  }
  if (customer) {
    customer.addEventListener("change", chosen);
    chosen();
  }
})();
