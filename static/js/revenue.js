// The Revenue page's charts: revenue by month stacked by product (or customer), the deferred
// revenue waterfall, and billed / recognized / collected by month. The figures come from the
// page's JSON blocks (json_script) as decimal strings; they become numbers only to be drawn.
(function () {
  "use strict";

  var COLOURS = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6",
                 "#f97316", "#94a3b8"];

  function read(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }

  function numbers(values) {
    return values.map(function (value) { return value === null ? null : Number(value); });
  }

  function moneyTicks(currency) {
    var format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency,
                                                    notation: "compact" });
    return function (value) { return format.format(value); };
  }

  function options(currency, stacked) {
    return {
      maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: {
        x: { stacked: stacked, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
        y: { stacked: stacked, beginAtZero: true, ticks: { callback: moneyTicks(currency) } }
      }
    };
  }

  function draw(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !window.Chart) return;
    new Chart(canvas, config);
  }

  var revenue = read("revenue-chart-data");
  if (revenue) {
    draw("revenue-chart", {
      type: "bar",
      data: {
        labels: revenue.labels,
        datasets: revenue.datasets.map(function (set, i) {
          return { label: set.label, data: numbers(set.data),
                   backgroundColor: COLOURS[i % COLOURS.length], maxBarThickness: 36 };
        })
      },
      options: options(revenue.currency, true)
    });
  }

  var waterfall = read("waterfall-chart-data");
  if (waterfall) {
    var last = waterfall.labels.length - 1;
    var config = {
      type: "bar",
      data: {
        labels: waterfall.labels,
        datasets: [{
          label: "To be recognized (" + waterfall.currency + ")", data: numbers(waterfall.data),
          backgroundColor: waterfall.labels.map(function (_, i) {
            return i >= last - 1 ? "#94a3b8" : "#0ea5e9";  // "Later" and "As used" apart
          }),
          maxBarThickness: 28
        }]
      },
      options: options(waterfall.currency, false)
    };
    config.options.plugins.legend.display = false;
    draw("waterfall-chart", config);
  }

  var brc = read("brc-chart-data");
  if (brc) {
    draw("brc-chart", {
      type: "bar",
      data: {
        labels: brc.labels,
        datasets: [
          { label: "Billed", data: numbers(brc.billed), backgroundColor: "#4f46e5",
            maxBarThickness: 18 },
          { label: "Recognized", data: numbers(brc.recognized), backgroundColor: "#10b981",
            maxBarThickness: 18 },
          { label: "Collected", data: numbers(brc.collected), backgroundColor: "#f59e0b",
            maxBarThickness: 18 }
        ]
      },
      options: options(brc.currency, false)
    });
  }
})();
