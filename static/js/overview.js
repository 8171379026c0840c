// The home page's charts (zenskar/dashboard/overview.py): each canvas names its JSON block
// (data-chart); the figures come as decimal strings and become numbers only to be drawn. A
// click on a bar or a point opens the list behind it: the dataset's link (a meter's page) or
// the label's (the invoices of a month); a link to "#..." opens the table on this page.
(function () {
  "use strict";

  function reveal(hash) {
    var target = document.getElementById(decodeURIComponent(hash.slice(1)));
    if (!target) return false;
    var details = target.closest("details");
    if (details) details.open = true;
    target.scrollIntoView({ block: "center" });
    target.classList.add("overview-target");
    window.setTimeout(function () { target.classList.remove("overview-target"); }, 2000);
    return true;
  }

  // ``origin``: the chart or link clicked; when the row asked for is not there (no customer
  // moved that month), its card's table is opened instead.
  function open(url, origin) {
    if (url.charAt(0) !== "#") {
      window.location.assign(url);
      return;
    }
    if (reveal(url)) {
      window.history.replaceState(null, "", url);
      return;
    }
    var card = origin ? origin.closest("section") : null;
    var details = card ? card.querySelector("details") : null;
    if (details) {
      details.open = true;
      details.scrollIntoView({ block: "nearest" });
    }
  }

  function formats(currency) {
    if (!currency) {
      return { full: new Intl.NumberFormat(), compact: new Intl.NumberFormat(undefined, { notation: "compact" }) };
    }
    return {
      full: new Intl.NumberFormat(undefined, { style: "currency", currency: currency }),
      compact: new Intl.NumberFormat(undefined, { style: "currency", currency: currency,
                                                  notation: "compact" })
    };
  }

  function draw(canvas) {
    var block = document.getElementById(canvas.getAttribute("data-chart"));
    if (!block) return;
    var spec = JSON.parse(block.textContent);
    var format = formats(spec.currency);
    var datasets = spec.datasets.map(function (set) {
      var type = set.type || spec.type;
      var line = type === "line";
      return {
        label: set.label, type: type, link: set.link || null, stack: set.stack,
        data: set.data.map(function (value) { return value === null ? null : Number(value); }),
        backgroundColor: set.color, borderColor: set.color, borderWidth: line ? 2 : 0,
        pointRadius: line ? 2 : 0, pointHoverRadius: line ? 4 : 0, tension: 0,
        maxBarThickness: 28, order: line ? 0 : 1
      };
    });
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom",
                    labels: { boxWidth: 10, boxHeight: 10 } },
          tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + format.full.format(item.raw);
          } } }
        },
        scales: {
          x: { stacked: spec.stacked, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } },
          y: { stacked: spec.stacked, beginAtZero: true,
               ticks: { callback: function (value) { return format.compact.format(value); } } }
        },
        onClick: function (event) {
          var found = chart.getElementsAtEventForMode(event, "nearest", { intersect: false }, true);
          if (!found.length) return;
          var set = datasets[found[0].datasetIndex];
          var url = set.link || (spec.links && spec.links[found[0].index]);
          if (url) open(url, canvas);
        },
        onHover: function (event, elements) {
          var clickable = elements.length && (spec.links || datasets.some(function (s) { return s.link; }));
          event.native.target.style.cursor = clickable ? "pointer" : "default";
        }
      }
    });
  }

  if (window.Chart) {
    document.querySelectorAll(".overview canvas[data-chart]").forEach(draw);
  }
  // Figures that point into this page (the customers behind a month of MRR) open their table.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".overview a[href^='#']") : null;
    if (!link) return;
    event.preventDefault();
    open(link.getAttribute("href"), link);
  });
  if (window.location.hash) reveal(window.location.hash);
})();
