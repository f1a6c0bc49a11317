/* Plant overview: keeps every line and machine tile live from /ws/plant/. */
(function () {
  "use strict";

  var plant = document.getElementById("plant");
  if (!plant || !plant.querySelector(".line-tile")) return;
  var zone = plant.dataset.siteTz;
  OEE.syncClock(document.querySelector("[data-period-end]").dataset.periodEnd);
  OEE.updateSince();

  var lineRefresh = {};  // line code → timer of the line OEE fetch (lines without a constraint machine)

  function tileOf(code) {
    return plant.querySelector('.machine-tile[data-machine="' + CSS.escape(code) + '"]');
  }

  function setState(node, state) {
    node.classList.remove("state-running", "state-stopped", "state-no-data");
    node.classList.add("state-" + (state || "no-data"));
  }

  function setOee(node, value, target, warning) {
    if (!node) return;
    node.classList.remove("level-good", "level-warn", "level-bad", "level-none");
    node.classList.add("level-" + OEE.level(value, target, warning));
  }

  function reasonText(msg) {
    if (msg.reason_name) return msg.reason_name;
    if (msg.fault_code) return "Fault " + msg.fault_code;
    return "Unexplained stop";
  }

  function shiftText(shift) {
    if (!shift) return "No shift running";
    return shift.name + " · " + OEE.clock(shift.start, zone) + "–" + OEE.clock(shift.end, zone);
  }

  function apply(msg) {
    var tile = tileOf(msg.machine);
    if (!tile) return;
    var target = Number(tile.dataset.targetOee), warning = Number(tile.dataset.warningOee);
    setState(tile, msg.state);
    OEE.setField(tile, "state", OEE.stateWord(msg.state));
    var since = tile.querySelector('[data-field="since"]');
    since.dataset.since = msg.state_since || "";
    var reason = OEE.setField(tile, "reason", reasonText(msg));
    reason.hidden = msg.state !== "stopped";
    setOee(OEE.setField(tile, "oee", OEE.percent(msg.oee), msg.oee), msg.oee, target, warning);
    ["availability", "performance", "quality"].forEach(function (name) {
      OEE.setField(tile, name, OEE.percent(msg[name]), msg[name]);
    });
    OEE.renderWorkOrder(tile.querySelector('[data-field="work-order"]'), msg.work_order, zone, false);

    var line = tile.closest(".line-tile");
    line.querySelector('[data-field="shift"]').textContent = shiftText(msg.shift);
    if (line.dataset.constraint === msg.machine) {
      setState(line, msg.state);
      setOee(OEE.setField(line, "line-oee", OEE.percent(msg.oee), msg.oee), msg.oee, target, warning);
      OEE.setField(line, "line-availability", OEE.percent(msg.availability));
      OEE.setField(line, "line-performance", OEE.percent(msg.performance));
      OEE.setField(line, "line-quality", OEE.percent(msg.quality));
    } else if (!line.dataset.constraint && msg.shift) {
      scheduleLineFigures(line, msg.shift);
    }
  }

  // A line without a constraint machine sums its machines' times: ask the API for it.
  function scheduleLineFigures(line, shift) {
    var code = line.dataset.line;
    if (lineRefresh[code]) return;
    lineRefresh[code] = setTimeout(function () {
      var query = OEE.query({ line: code, start: shift.start, end: new Date(OEE.now()).toISOString() });
      OEE.api("/api/v1/oee/?" + query).then(function (data) {
        var target = Number(line.dataset.targetOee), warning = Number(line.dataset.warningOee);
        setOee(OEE.setField(line, "line-oee", OEE.percent(data.oee), data.oee), data.oee, target, warning);
        OEE.setField(line, "line-availability", OEE.percent(data.availability));
        OEE.setField(line, "line-performance", OEE.percent(data.performance));
        OEE.setField(line, "line-quality", OEE.percent(data.quality));
      }).catch(function () { /* the next update tries again */ }).finally(function () {
        lineRefresh[code] = null;
      });
    }, 5000);
  }

  OEE.LiveSocket("/ws/plant/", {
    onSnapshot: function (machines) {
      machines.forEach(apply);
      OEE.updateSince();
    },
    onMachine: function (msg) {
      apply(msg);
      OEE.updateSince(tileOf(msg.machine));
    },
  });
})();
