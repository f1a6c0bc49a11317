/* Shift report charts: six big losses (waterfall), downtime Pareto and OEE by shift. */
(function () {
  "use strict";

  var script = document.getElementById("chart-data");
  if (!script) return;
  var data = JSON.parse(script.textContent);
  var line = document.getElementById("report").dataset.line;

  OEE.charts.waterfall(document.getElementById("chart-waterfall"), data.waterfall);
  OEE.charts.pareto(document.getElementById("chart-pareto"),
    OEE.charts.downtimeItems(data.downtime, function (row) { return row.hours; }), gettext("hours"));
  OEE.charts.trend(document.getElementById("chart-trend"), data.trend, data.target, line);
})();
