// The contract page's chart: the known total per billing date. Totals travel as decimal strings
// (json_script "billing-chart-data"); they become numbers only to be drawn.
(function () {
  "use strict";
  var canvas = document.getElementById("billing-chart");
  var source = document.getElementById("billing-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") { return; }
  var rows = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: rows.map(function (r) { return r.date; }),
      datasets: [{ label: canvas.getAttribute("data-label"),
                   data: rows.map(function (r) { return Number(r.total); }),
                   backgroundColor: "#4f46e5", borderRadius: 4 }]
    },
    options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } },
               scales: { y: { beginAtZero: true } } }
  });
})();
