// The Receivables page's charts: per currency, what is owed by days past due, one bar per
// bucket, from green (not yet due) to red (over 120 days). The figures come from the page's
// JSON block (json_script) as decimal strings; they become numbers only to be drawn.
(function () {
  "use strict";

  var COLOURS = ["#10b981", "#facc15", "#f59e0b", "#f97316", "#ef4444", "#b91c1c"];

  var block = document.getElementById("aging-chart-data");
  if (!block || !window.Chart) return;

  JSON.parse(block.textContent).forEach(function (chart) {
    var canvas = document.getElementById(chart.id);
    if (!canvas) return;
    var format = new Intl.NumberFormat(undefined, { style: "currency", currency: chart.currency });
    var compact = new Intl.NumberFormat(undefined, { style: "currency", currency: chart.currency,
                                                     notation: "compact" });
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: [{
          label: "Owed (" + chart.currency + ")",
          data: chart.data.map(Number),
          backgroundColor: COLOURS,
          maxBarThickness: 56
        }]
      },
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (item) { return format.format(item.raw); } } }
        },
        scales: {
          x: { ticks: { maxRotation: 0 } },
          y: { beginAtZero: true, ticks: { callback: function (v) { return compact.format(v); } } }
        }
      }
    });
  });
})();
