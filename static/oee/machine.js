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
    OEE.charts.downtimeItems(data.downtime, function (row) { return row.seconds / 60; }), "minutes");

  var card = document.querySelector('[data-live="state"]');
  function apply(msg) {
    if (msg.machine !== root.dataset.machine) return;
    card.classList.remove("state-running", "state-stopped", "state-no-data");
    card.classList.add("state-" + (msg.state || "no-data"));
    OEE.setField(card, "state", OEE.stateWord(msg.state) + (msg.state === "stopped" && msg.reason_name ? " · " + msg.reason_name : ""));
    card.querySelector('[data-field="since"]').dataset.since = msg.state_since || "";
    OEE.updateSince(card);
  }

  OEE.LiveSocket("/ws/machines/" + encodeURIComponent(root.dataset.machine) + "/", {
    onSnapshot: function (machines) { machines.forEach(apply); },
    onMachine: apply,
  });
})();
