/* Machine detail: charts of the chosen period, and the machine's state now from /ws/machines/<code>/. */
(function () {
  "use strict";

  var root = document.getElementById("machine-detail");
  if (!root) return;
  var zone = root.dataset.siteTz;
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  OEE.syncClock(root.dataset.serverNow);
  OEE.updateSince();

  OEE.charts.timeline(document.getElementById("chart-timeline"), data.timeline, data.period, zone);
  OEE.charts.partsPerHour(document.getElementById("chart-parts"), data.parts_per_hour);
  OEE.charts.pareto(document.getElementById("chart-pareto"),
    OEE.charts.downtimeItems(data.downtime, function (row) { return row.seconds / 60; }), gettext("minutes"));

  OEE.LiveSocket("/ws/machines/" + encodeURIComponent(root.dataset.machine) + "/", {
    onSnapshot: function (machines) { machines.forEach(OEE.swapAll); },
    onMachine: OEE.swapAll,
  });
})();
