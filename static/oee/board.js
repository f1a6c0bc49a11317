/* The planning board: each order's planned window above its actual runs on one time axis of the
 * site's wall clock, its ETA, and a line at now. The server decides what is shown; this only draws it. */
(function () {
  "use strict";

  var script = document.getElementById("board-data");
  var node = document.getElementById("chart-board");
  if (!script || !node) return;
  var data = JSON.parse(script.textContent);
  var zone = data.zone, wall = OEE.charts.wall;
  var STATUSES = {
    planned: pgettext("work order status", "planned"), released: pgettext("work order status", "released"),
    running: pgettext("work order status", "running"), paused: pgettext("work order status", "paused"),
    completed: pgettext("work order status", "completed"), cancelled: pgettext("work order status", "cancelled"),
  };
  var COLOURS = { planned: "rgba(56,189,248,.35)", plannedEdge: "#38bdf8", cancelled: "rgba(107,114,128,.35)",
                  ran: "#22c55e", eta: "#facc15", now: "#f472b6" };

  if (!data.orders.length) {
    node.replaceChildren(OEE.el("div", { class: "stops-empty", text: gettext("No orders planned or run on these days: plan one below.") }));
    return;
  }
  var label = function (o) { return o.number; };
  var span = function (start, end) { return Date.parse(end) - Date.parse(start); };
  var hover = function (o) {
    return o.number + " · " + o.product + " × " + o.quantity +
      (o.machine ? " " + interpolate(gettext("on %(machine)s"), { machine: o.machine }, true) : "") +
      " (" + (STATUSES[o.status] || o.status) + ")";
  };

  var planned = {
    type: "bar", orientation: "h", name: "planned", offset: -0.42, width: 0.4,
    y: data.orders.map(label),
    base: data.orders.map(function (o) { return wall(o.planned_start, zone); }),
    x: data.orders.map(function (o) { return span(o.planned_start, o.planned_end); }),
    text: data.orders.map(function (o) { return o.product + " × " + o.quantity; }),
    textposition: "inside", insidetextanchor: "start", textfont: { color: "#eef2f6", size: 13 },
    marker: { color: data.orders.map(function (o) { return o.status === "cancelled" ? COLOURS.cancelled : COLOURS.planned; }),
              line: { color: COLOURS.plannedEdge, width: 1.5 } },
    customdata: data.orders.map(function (o) { return [hover(o), o.planned_label]; }),
    hovertemplate: "%{customdata[0]}<br>" + gettext("planned") + " %{customdata[1]}<extra></extra>",
  };
  var runs = [];
  data.orders.forEach(function (o) { o.runs.forEach(function (r) { runs.push({ order: o, start: r[0], end: r[1] }); }); });
  var ran = {
    type: "bar", orientation: "h", name: "ran", offset: 0.02, width: 0.4,
    y: runs.map(function (r) { return label(r.order); }),
    base: runs.map(function (r) { return wall(r.start, zone); }),
    x: runs.map(function (r) { return span(r.start, r.end); }),
    marker: { color: COLOURS.ran },
    customdata: runs.map(function (r) {
      return [hover(r.order), OEE.clock(r.start, zone) + "–" + OEE.clock(r.end, zone), r.order.good];
    }),
    hovertemplate: "%{customdata[0]}<br>" + gettext("ran") + " %{customdata[1]}, " +
      interpolate(gettext("%(count)s good"), { count: "%{customdata[2]}" }, true) + "<extra></extra>",
  };
  var withEta = data.orders.filter(function (o) { return o.eta; });
  var eta = {
    type: "scatter", mode: "markers", name: "ETA", y: withEta.map(label),
    x: withEta.map(function (o) { return wall(o.eta, zone); }),
    marker: { symbol: "diamond", size: 14, color: COLOURS.eta, line: { color: "#0a0e13", width: 1 } },
    customdata: withEta.map(function (o) { return [o.number, OEE.clock(o.eta, zone, true)]; }),
    hovertemplate: "%{customdata[0]}: " + gettext("ETA") + " %{customdata[1]}<extra></extra>",
  };
  var now = wall(data.now, zone);
  var inside = Date.parse(data.start) <= Date.parse(data.now) && Date.parse(data.now) < Date.parse(data.end);
  var narrow = node.clientWidth < 600;
  Plotly.react(node, [planned, ran, eta], OEE.charts.layout({
    barmode: "overlay", showlegend: false, height: Math.max(220, 90 + 54 * data.orders.length),
    margin: { l: narrow ? 78 : 110, r: 16, t: 30, b: 40 },
    xaxis: { type: "date", range: [wall(data.start, zone), wall(data.end, zone)], gridcolor: "#243040",
             tickformat: narrow ? "%H:%M" : "%a %H:%M", nticks: narrow ? 6 : 16, hoverformat: "%a %H:%M" },
    yaxis: { type: "category", autorange: "reversed", gridcolor: "rgba(0,0,0,0)", automargin: true },
    shapes: inside ? [{ type: "line", xref: "x", yref: "paper", x0: now, x1: now, y0: 0, y1: 1,
                        line: { color: COLOURS.now, width: 2, dash: "dot" } }] : [],
    annotations: inside ? [{ x: now, xref: "x", y: 1, yref: "paper", yanchor: "bottom", showarrow: false,
                             text: gettext("now") + " " + OEE.clock(data.now, zone), font: { color: COLOURS.now, size: 13 } }] : [],
  }), OEE.charts.config);
  // A click on an order's plan opens its reschedule form.
  node.on("plotly_click", function (event) {
    var point = event.points && event.points[0];
    if (!point || point.data.name !== "planned") return;
    var order = data.orders[point.pointIndex];
    if (order && order.reschedule) window.location.href = order.reschedule;
  });
})();
