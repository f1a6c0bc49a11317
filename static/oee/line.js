/* Line screen: live figures from /ws/lines/<code>/, the shift's timeline, stops without a
 * reason (one touch to give one, or to split a long stop first) and scrap entry.
 *
 * Built to run for days in a kiosk browser: a fixed set of timers, lists capped, and every
 * redraw replaces nodes instead of adding to them.
 */
(function () {
  "use strict";

  var root = document.getElementById("line-screen");
  if (!root) return;
  var lineCode = root.dataset.line;
  var zone = root.dataset.siteTz;
  var canOperate = root.dataset.canOperate === "true";
  var STOPS_SHOWN = 4;           // stops listed per machine; the rest are counted
  var SPLIT_FROM_SECONDS = 300;  // stops at least this long offer "Split"
  var STATE_COLOURS = { running: "#22c55e", stopped: "#ef4444", "no-data": "#6b7280" };

  OEE.syncClock(root.dataset.serverNow);
  OEE.updateSince();

  var panels = {};   // machine code → {node, msg, stops, refreshTimer}
  document.querySelectorAll(".machine-panel").forEach(function (node) {
    panels[node.dataset.machine] = {
      node: node, msg: null, stops: [], refreshTimer: null,
      shift: node.dataset.shiftStart ? { start: node.dataset.shiftStart, end: node.dataset.shiftEnd } : null,
    };
  });

  /* ---- clock ---- */
  var clock = document.getElementById("clock");
  function tickClock() { clock.textContent = OEE.clock(new Date(OEE.now()).toISOString(), zone); }
  tickClock();
  OEE.onTick(tickClock);

  /* ---- live figures ---- */

  function apply(msg) {
    var panel = panels[msg.machine];
    if (!panel) return;
    var node = panel.node, previous = panel.msg;
    panel.msg = msg;
    if (msg.shift) panel.shift = msg.shift;
    var target = Number(node.dataset.targetOee), warning = Number(node.dataset.warningOee);

    node.classList.remove("state-running", "state-stopped", "state-no-data");
    node.classList.add("state-" + (msg.state || "no-data"));
    OEE.setField(node, "state", OEE.stateWord(msg.state));
    node.querySelector('[data-field="since"]').dataset.since = msg.state_since || "";
    var reason = "";
    if (msg.state === "stopped") {
      reason = msg.reason_name || (msg.fault_code ? "Fault " + msg.fault_code + " — no reason yet" : "Unexplained stop");
    } else if (msg.state === "no-data") {
      reason = msg.device_error || "";
    }
    OEE.setField(node, "reason", reason);

    var big = OEE.setField(node, "oee", OEE.percent(msg.oee), msg.oee);
    big.classList.remove("level-good", "level-warn", "level-bad", "level-none");
    big.classList.add("level-" + OEE.level(msg.oee, target, warning));
    ["availability", "performance", "quality"].forEach(function (name) {
      OEE.setField(node, name, OEE.percent(msg[name]), msg[name]);
    });
    OEE.renderWorkOrder(node.querySelector('[data-field="work-order"]'), msg.work_order, zone, true);
    if (msg.shift) {
      OEE.setField(node, "timeline-start", OEE.clock(msg.shift.start, zone));
      OEE.setField(node, "timeline-end", OEE.clock(msg.shift.end, zone));
      document.getElementById("shift-label").textContent =
        msg.shift.name + " " + OEE.clock(msg.shift.start, zone) + "–" + OEE.clock(msg.shift.end, zone);
    }
    var changed = !previous || previous.state !== msg.state || previous.state_since !== msg.state_since ||
      previous.reason !== msg.reason || (previous.shift && previous.shift.start) !== (msg.shift && msg.shift.start);
    if (changed) scheduleRefresh(msg.machine, 300);
  }

  /* ---- timeline and stops, from the JSON API ---- */

  function scheduleRefresh(code, delay) {
    var panel = panels[code];
    clearTimeout(panel.refreshTimer);
    panel.refreshTimer = setTimeout(function () { refresh(code); }, delay);
  }

  function refresh(code) {
    var panel = panels[code];
    panel.refreshTimer = null;
    if (!panel.shift) {
      drawTimeline(panel, []);
      renderStops(panel, []);
      return;
    }
    var query = OEE.query({ start: panel.shift.start, end: panel.shift.end });
    var base = "/api/v1/machines/" + encodeURIComponent(code);
    OEE.api(base + "/timeline/?" + query).then(function (data) {
      drawTimeline(panel, data.intervals || []);
    }).catch(function () { /* kept until the next refresh */ });
    OEE.api(base + "/stops/?" + query).then(function (data) {
      renderStops(panel, data.stops || []);
    }).catch(function () { /* kept until the next refresh */ });
  }

  var SVG = "http://www.w3.org/2000/svg";
  function drawTimeline(panel, intervals) {
    var svg = panel.node.querySelector('[data-field="timeline"]');
    if (!panel.shift) { svg.replaceChildren(); return; }
    var start = Date.parse(panel.shift.start), end = Date.parse(panel.shift.end), now = OEE.now();
    var span = end - start;
    var x = function (t) { return Math.max(0, Math.min(1000, ((t - start) / span) * 1000)); };
    var nodes = [];
    intervals.forEach(function (interval) {
      var a = x(Date.parse(interval.start)), b = x(interval.end ? Date.parse(interval.end) : now);
      if (b <= a) return;
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", a.toFixed(2));
      rect.setAttribute("width", Math.max(b - a, 0.8).toFixed(2));
      rect.setAttribute("y", "0");
      rect.setAttribute("height", "40");
      rect.setAttribute("fill", STATE_COLOURS[interval.state] || STATE_COLOURS["no-data"]);
      var title = document.createElementNS(SVG, "title");
      title.textContent = OEE.stateWord(interval.state) + (interval.reason_name ? " — " + interval.reason_name : "") +
        " " + OEE.clock(interval.start, zone) + "–" + (interval.end ? OEE.clock(interval.end, zone) : "now");
      rect.appendChild(title);
      nodes.push(rect);
    });
    var marker = document.createElementNS(SVG, "rect");
    marker.setAttribute("x", (x(now) - 1.5).toFixed(2));
    marker.setAttribute("width", "3");
    marker.setAttribute("y", "0");
    marker.setAttribute("height", "40");
    marker.setAttribute("fill", "#ffffff");
    nodes.push(marker);
    svg.replaceChildren.apply(svg, nodes);
  }

  function renderStops(panel, stops) {
    var open = stops.filter(function (s) { return s.unexplained; });
    open.sort(function (a, b) { return Date.parse(b.start) - Date.parse(a.start); });
    panel.stops = open.slice(0, STOPS_SHOWN);
    var list = panel.node.querySelector('[data-field="stops"]');
    var count = panel.node.querySelector('[data-field="stops-count"]');
    count.textContent = open.length > STOPS_SHOWN ? "+" + (open.length - STOPS_SHOWN) + " more" : (open.length || "");
    if (!open.length) {
      list.replaceChildren(OEE.el("li", { class: "stops-empty", text: "None — every stop has a reason." }));
      return;
    }
    list.replaceChildren.apply(list, panel.stops.map(function (stop) {
      var length = stop.end ? OEE.el("span", { class: "stop-len", text: OEE.duration(stop.duration_s) })
        : OEE.el("span", { class: "stop-len", dataset: { since: stop.start } });
      var actions = null;
      if (canOperate) {
        var seconds = stop.end ? stop.duration_s : (OEE.now() - Date.parse(stop.start)) / 1000;
        actions = OEE.el("span", { class: "stop-actions" }, [
          seconds >= SPLIT_FROM_SECONDS ? OEE.el("button", {
            type: "button", class: "touch ghost", text: "Split",
            onclick: function () { openSplit(panel, stop); },
          }) : null,
          OEE.el("button", {
            type: "button", class: "touch primary", text: "Reason", "data-action": "reason",
            onclick: function () { openReasons(panel, stop, null); },
          }),
        ]);
      }
      return OEE.el("li", { class: "stop" + (stop.end ? "" : " open"), dataset: { start: stop.start } }, [
        OEE.el("span", { class: "stop-when", text: OEE.clock(stop.start, zone) }),
        length,
        stop.fault_code ? OEE.el("span", { class: "stop-fault", text: "fault " + stop.fault_code }) : null,
        actions,
      ]);
    }));
    OEE.updateSince(list);
  }

  /* ---- touch sheets: reasons, split, scrap ---- */

  var reasonTree = null;
  function loadReasons() {
    return OEE.api("/api/v1/reasons/").then(function (tree) { reasonTree = tree || []; return reasonTree; });
  }

  var sheet = null;
  function openSheet(title, subtitle, body, footer) {
    closeSheet();
    var closeButton = OEE.el("button", { type: "button", class: "touch ghost", text: "Cancel", onclick: closeSheet });
    sheet = OEE.el("div", { class: "sheet-backdrop", role: "dialog", "aria-modal": "true",
                            onclick: function (e) { if (e.target === sheet) closeSheet(); } }, [
      OEE.el("div", { class: "sheet" }, [
        OEE.el("div", { class: "sheet-head" }, [
          OEE.el("h2", { text: title }), OEE.el("span", { class: "sub", text: subtitle }), closeButton,
        ]),
        body,
        footer || null,
      ]),
    ]);
    document.body.appendChild(sheet);
  }
  function closeSheet() {
    if (sheet) sheet.remove();
    sheet = null;
  }
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeSheet(); });

  function machineName(panel) { return panel.node.querySelector(".mp-name").textContent; }

  function stopLabel(stop) {
    var length = stop.end ? stop.duration_s : (OEE.now() - Date.parse(stop.start)) / 1000;
    return "stop at " + OEE.clock(stop.start, zone) + " · " + OEE.length(length);
  }

  var QUALITY = { production_rejects: true, startup_rejects: true };

  /** The tree without what a stop cannot take: quality reasons (for scrap) and the pipeline's no-data. */
  function stopReasons(tree) {
    return (tree || []).filter(function (group) {
      return group.code !== "no-data" && !QUALITY[group.loss_category];
    }).map(function (group) {
      return Object.assign({}, group, { children: (group.children || []).filter(function (r) { return !QUALITY[r.loss_category]; }) });
    });
  }

  function openReasons(panel, stop, splitAt) {
    var subtitle = machineName(panel) + " · " + stopLabel(stop) +
      (splitAt ? " · from " + OEE.clock(splitAt, zone) + " on" : "");
    var grid = OEE.el("div", { class: "choice-grid" });
    var body = OEE.el("div", {}, [grid]);
    openSheet("Why did it stop?", subtitle, body);
    var showGroups = function (tree) {
      grid.replaceChildren.apply(grid, stopReasons(tree).map(function (group) {
        var leaf = !group.children || !group.children.length;
        return OEE.el("button", {
          type: "button", class: "choice" + (group.planned ? " planned" : ""), "data-reason-group": group.code,
          onclick: function () { if (leaf) give(panel, stop, group, splitAt); else showChildren(group); },
        }, [group.name, OEE.el("small", {
          text: leaf ? "" : group.children.length + (group.children.length === 1 ? " reason ›" : " reasons ›"),
        })]);
      }));
    };
    var showChildren = function (group) {
      var back = OEE.el("button", { type: "button", class: "choice", text: "‹ Back",
                                    onclick: function () { showGroups(reasonTree); } });
      grid.replaceChildren.apply(grid, [back].concat(group.children.map(function (reason) {
        return OEE.el("button", {
          type: "button", class: "choice" + (reason.planned ? " planned" : ""), "data-reason": reason.code,
          onclick: function () { give(panel, stop, reason, splitAt); },
        }, [reason.name, OEE.el("small", { text: group.name })]);
      })));
    };
    (reasonTree ? Promise.resolve(reasonTree) : loadReasons()).then(showGroups).catch(function (error) {
      grid.replaceChildren(OEE.el("p", { class: "form-error", text: "Could not load the reasons: " + error.message }));
    });
  }

  function give(panel, stop, reason, splitAt) {
    var body = { stop_start: stop.start, reason: reason.code };
    if (splitAt) body.split_at = splitAt;
    OEE.api("/api/v1/machines/" + encodeURIComponent(panel.node.dataset.machine) + "/reasons/",
            { method: "POST", body: body })
      .then(function () {
        closeSheet();
        OEE.toast("Reason given: " + reason.name);
        scheduleRefresh(panel.node.dataset.machine, 0);
      })
      .catch(function (error) { OEE.toast("Not saved: " + error.message, true); });
  }

  function openSplit(panel, stop) {
    var start = Date.parse(stop.start);
    var end = stop.end ? Date.parse(stop.end) : OEE.now();
    var step = 60 * 1000;
    var min = start + step, max = Math.max(min, end - step);
    var at = start + Math.round((end - start) / 2 / step) * step;
    var value = OEE.el("span", { class: "value" });
    var range = OEE.el("input", { type: "range", min: String(min), max: String(max), step: String(step), value: String(at),
                                  "aria-label": "split time" });
    var show = function () {
      at = Number(range.value);
      value.textContent = OEE.clock(new Date(at).toISOString(), zone);
    };
    range.addEventListener("input", show);
    var nudge = function (delta) { range.value = String(Math.min(max, Math.max(min, at + delta))); show(); };
    var body = OEE.el("div", { class: "split-box" }, [
      OEE.el("div", { class: "split-row" }, [
        "Two causes? The part before stays in the list for its own reason. Split at",
      ]),
      OEE.el("div", { class: "split-row" }, [
        OEE.el("button", { type: "button", class: "touch", text: "−5 min", onclick: function () { nudge(-5 * step); } }),
        OEE.el("button", { type: "button", class: "touch", text: "−1 min", onclick: function () { nudge(-step); } }),
        value,
        OEE.el("button", { type: "button", class: "touch", text: "+1 min", onclick: function () { nudge(step); } }),
        OEE.el("button", { type: "button", class: "touch", text: "+5 min", onclick: function () { nudge(5 * step); } }),
      ]),
      range,
    ]);
    var footer = OEE.el("div", { class: "sheet-foot" }, [
      OEE.el("button", {
        type: "button", class: "touch primary", text: "Next: reason from this time on ›",
        onclick: function () { openReasons(panel, stop, new Date(at).toISOString()); },
      }),
    ]);
    openSheet("Split stop", machineName(panel) + " · " + stopLabel(stop), body, footer);
    show();
  }

  function scrapReasons(tree) {
    var out = [];
    (tree || []).forEach(function (group) {
      var members = group.children && group.children.length ? group.children : [group];
      members.forEach(function (reason) {
        var category = reason.loss_category || group.loss_category;
        if (category === "production_rejects" || category === "startup_rejects") out.push(reason);
      });
    });
    return out;
  }

  function openScrap(panel) {
    var quantity = 1, chosen = null;
    var qty = OEE.el("span", { class: "qty", text: "1", "data-field": "scrap-quantity" });
    var change = function (delta) { quantity = Math.max(1, Math.min(100000, quantity + delta)); qty.textContent = quantity; };
    var reasons = OEE.el("div", { class: "choice-grid" });
    var submit = OEE.el("button", { type: "button", class: "touch danger", text: "Enter scrap", onclick: function () {
      submit.disabled = true;
      var body = { quantity: quantity };
      if (chosen) body.reason = chosen.code;
      OEE.api("/api/v1/machines/" + encodeURIComponent(panel.node.dataset.machine) + "/scrap/",
              { method: "POST", body: body })
        .then(function () { closeSheet(); OEE.toast(quantity + " scrapped on " + machineName(panel)); })
        .catch(function (error) { submit.disabled = false; OEE.toast("Not saved: " + error.message, true); });
    } });
    var body = OEE.el("div", {}, [
      OEE.el("div", { class: "qty-row" }, [
        OEE.el("button", { type: "button", class: "touch", text: "−10", onclick: function () { change(-10); } }),
        OEE.el("button", { type: "button", class: "touch", text: "−1", onclick: function () { change(-1); } }),
        qty,
        OEE.el("button", { type: "button", class: "touch", text: "+1", onclick: function () { change(1); } }),
        OEE.el("button", { type: "button", class: "touch", text: "+10", onclick: function () { change(10); } }),
      ]),
      OEE.el("h3", { text: "Reason (optional)" }),
      reasons,
    ]);
    openSheet("Scrap", machineName(panel) + " · parts to scrap", body,
              OEE.el("div", { class: "sheet-foot" }, [submit]));
    (reasonTree ? Promise.resolve(reasonTree) : loadReasons()).then(function (tree) {
      var buttons = scrapReasons(tree).map(function (reason) {
        var button = OEE.el("button", { type: "button", class: "choice", text: reason.name, onclick: function () {
          chosen = chosen === reason ? null : reason;
          buttons.forEach(function (b) { b.classList.toggle("selected", chosen && b === button); });
        } });
        return button;
      });
      reasons.replaceChildren.apply(reasons, buttons);
    }).catch(function () { reasons.replaceChildren(); });
  }

  Object.keys(panels).forEach(function (code) {
    var button = panels[code].node.querySelector('[data-action="scrap"]');
    if (button) button.addEventListener("click", function () { openScrap(panels[code]); });
  });

  /* ---- start ---- */

  Object.keys(panels).forEach(function (code) { refresh(code); });
  // The timeline grows and open stops lengthen: redraw from the server now and then.
  setInterval(function () {
    Object.keys(panels).forEach(function (code) { scheduleRefresh(code, Math.random() * 2000); });
  }, 30000);

  OEE.LiveSocket("/ws/lines/" + encodeURIComponent(lineCode) + "/", {
    onSnapshot: function (machines) {
      machines.forEach(apply);
      Object.keys(panels).forEach(function (code) { scheduleRefresh(code, 0); });
      if (canOperate) loadReasons().catch(function () {});
      OEE.updateSince();
    },
    onMachine: function (msg) {
      apply(msg);
      OEE.updateSince(panels[msg.machine] && panels[msg.machine].node);
    },
  });
})();
