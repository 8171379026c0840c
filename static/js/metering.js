// Usage pages: the daily usage chart of a meter, and the data source form's examples.
(function () {
  "use strict";

  function usageChart() {
    var canvas = document.getElementById("usage-chart");
    var data = document.getElementById("usage-chart-data");
    if (!canvas || !data || !window.Chart) return;
    // Quantities travel as decimal strings; they become numbers only to be drawn.
    var rows = JSON.parse(data.textContent);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.date; }),
        datasets: [{
          label: "Quantity",
          data: rows.map(function (r) { return r.quantity === null ? null : Number(r.quantity); }),
          backgroundColor: "#4f46e5", borderRadius: 4, maxBarThickness: 28
        }]
      },
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
                  y: { beginAtZero: true } }
      }
    });
  }

  function sourceExamples() {
    var examples = document.getElementById("source-examples");
    var kind = document.getElementById("id_kind");
    if (!examples || !kind) return;
    var byKind = JSON.parse(examples.textContent);
    function show() {
      var example = byKind[kind.value];
      if (!example) return;
      // An existing source keeps its settings when the box is left empty: say so instead.
      (kind.disabled ? ["query"] : ["settings", "query"]).forEach(function (name) {
        var input = document.getElementById("id_" + name);
        if (input) input.placeholder = JSON.stringify(example[name], null, 2);
      });
    }
    kind.addEventListener("change", show);
    show();
  }

  usageChart();
  sourceExamples();
})();
