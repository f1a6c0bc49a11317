/* Plant overview: every machine tile and line figure is swapped in from /ws/plant/ as the server draws it. */
(function () {
  "use strict";

  var plant = document.getElementById("plant");
  if (!plant || !plant.querySelector(".line-tile")) return;
  var first = document.querySelector("[data-period-end]");
  if (first) OEE.syncClock(first.dataset.periodEnd);
  OEE.updateSince();

  OEE.LiveSocket("/ws/plant/", {
    onSnapshot: function (machines) { machines.forEach(OEE.swapAll); },
    onMachine: OEE.swapAll,
  });
})();
