// The base at a glance: sign-ups by source and week (stacked bars) and growth (a line), drawn with
// the vendored uPlot from the figures the page carries in #glance-data. Without JavaScript the
// figures stay readable in the table below the charts.
(function () {
  "use strict";
  var data = document.getElementById("glance-data");
  if (!data || typeof uPlot === "undefined") return;
  var figures = JSON.parse(data.textContent);
  var palette = ["#1b5e20", "#1565c0", "#ad1457", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#455a64", "#c62828", "#2e7d32"];

  function seconds(isoDates) {
    return isoDates.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
  }

  function width(element) {
    return Math.max(260, element.clientWidth || 320);
  }

  var signups = document.getElementById("glance-signups");
  if (signups && figures.signups.length) {
    // Stacked: each series is drawn as the running total of those before it.
    var running = figures.weeks.map(function () { return 0; });
    var stacked = figures.signups.map(function (series) {
      running = running.map(function (value, index) { return value + series.counts[index]; });
      return running.slice();
    });
    var bars = uPlot.paths.bars({ size: [0.7, 40] });
    // Drawn tallest stack first, so that the lower ones stay visible on top of it.
    var order = stacked.map(function (_, index) { return index; }).reverse();
    var series = order.map(function (index) {
      var colour = palette[index % palette.length];
      return {
        label: figures.signups[index].label,
        fill: colour,
        stroke: colour,
        paths: bars,
        points: { show: false },
        value: function (u, value, seriesIndex, dataIndex) {
          return dataIndex == null ? "" : figures.signups[index].counts[dataIndex];
        },
      };
    });
    new uPlot({
      width: width(signups),
      height: 220,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      series: [{}].concat(series),
    }, [seconds(figures.weeks)].concat(order.map(function (index) { return stacked[index]; })), signups);
  }

  var growth = document.getElementById("glance-growth");
  if (growth) {
    new uPlot({
      width: width(growth),
      height: 220,
      scales: { x: { time: true } },
      series: [{}, { label: growth.dataset.label, stroke: palette[1], width: 2, fill: "rgba(21, 101, 192, 0.1)" }],
    }, [seconds(figures.months), figures.growth], growth);
  }
})();
