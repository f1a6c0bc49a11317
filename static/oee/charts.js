/* Plotly charts in the dark theme: state timeline, parts per hour, downtime Pareto, the six
 * big losses as a waterfall and the OEE trend. Plotly is served from our own static files. */
(function () {
  "use strict";

  var COLOURS = { running: "#22c55e", stopped: "#ef4444", "no-data": "#6b7280" };
  var STATE_NAMES = { running: "Running", stopped: "Stopped", "no-data": "No data" };  // the legend's names
  var TEXT = "#dfe6ee", GRID = "#243040";
  var CONFIG = { displayModeBar: false, responsive: true };
  var wallFormats = {};

  /** An ISO instant as the site's wall-clock time "YYYY-MM-DD HH:MM:SS" (Plotly dates have no zone). */
  function wall(iso, zone) {
    if (!wallFormats[zone]) {
      wallFormats[zone] = new Intl.DateTimeFormat("sv-SE", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
      });
    }
    return wallFormats[zone].format(new Date(iso)).replace(",", "");
  }

  function layout(extra) {
    var base = {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: TEXT, size: 14, family: "Inter, Segoe UI, system-ui, sans-serif" },
      margin: { l: 60, r: 20, t: 30, b: 50 },
      xaxis: { gridcolor: GRID, zerolinecolor: GRID, linecolor: GRID },
      yaxis: { gridcolor: GRID, zerolinecolor: GRID, linecolor: GRID },
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      hoverlabel: { bgcolor: "#0d131a", bordercolor: "#38bdf8", font: { color: "#fff" } },
      bargap: 0.25,
    };
    Object.keys(extra || {}).forEach(function (key) {
      base[key] = typeof extra[key] === "object" && !Array.isArray(extra[key]) && base[key]
        ? Object.assign({}, base[key], extra[key]) : extra[key];
    });
    return base;
  }

  function empty(node, text) {
    node.replaceChildren(OEE.el("div", { class: "stops-empty", text: text }));
  }

  var charts = (OEE.charts = { wall: wall, layout: layout });

  charts.timeline = function (node, stretches, period, zone) {
    if (!stretches.length) return empty(node, "No states recorded in this period.");
    var traces = ["running", "stopped", "no-data"].map(function (state) {
      var mine = stretches.filter(function (s) { return s.state === state; });
      return {
        type: "bar", orientation: "h", name: STATE_NAMES[state], marker: { color: COLOURS[state] },
        y: mine.map(function () { return ""; }),
        base: mine.map(function (s) { return wall(s.start, zone); }),
        x: mine.map(function (s) { return Date.parse(s.end) - Date.parse(s.start); }),
        customdata: mine.map(function (s) {
          return [OEE.clock(s.start, zone), OEE.clock(s.end, zone), OEE.length(s.duration_s),
                  s.reason_name || (state === "stopped" ? "no reason" : "")];
        }),
        hovertemplate: "%{customdata[0]}–%{customdata[1]} (%{customdata[2]})<br>%{customdata[3]}<extra>" +
          STATE_NAMES[state] + "</extra>",
      };
    });
    Plotly.react(node, traces, layout({
      barmode: "overlay", bargap: 0.1, showlegend: true, margin: { l: 20, r: 20, t: 36, b: 40 },
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { type: "date", range: [wall(period.start, zone), wall(period.end, zone)], gridcolor: GRID },
      yaxis: { showticklabels: false, gridcolor: "rgba(0,0,0,0)" },
    }), CONFIG);
  };

  charts.partsPerHour = function (node, hours) {
    if (!hours.length) return empty(node, "No parts counted in this period.");
    var labels = hours.map(function (h) { return h.hour.slice(0, 16).replace("T", " "); });
    Plotly.react(node, [
      { type: "bar", name: "Good", x: labels, y: hours.map(function (h) { return h.good; }), marker: { color: "#22c55e" } },
      { type: "bar", name: "Rejected", x: labels, y: hours.map(function (h) { return h.reject; }), marker: { color: "#ef4444" } },
    ], layout({ barmode: "stack", xaxis: { type: "date", gridcolor: GRID }, yaxis: { title: { text: "parts" }, gridcolor: GRID } }), CONFIG);
  };

  /** Bars largest first, and the cumulative share on a second axis. */
  charts.pareto = function (node, items, unit) {
    if (!items.length) return empty(node, "No downtime in this period.");
    var values = items.map(function (i) { return i.value; });
    var sum = values.reduce(function (a, b) { return a + b; }, 0);
    var running = 0;
    var cumulative = values.map(function (v) { running += v; return sum ? (100 * running) / sum : 0; });
    Plotly.react(node, [
      { type: "bar", name: unit, x: items.map(function (i) { return i.label; }), y: values,
        marker: { color: items.map(function (i) { return i.colour || "#f97316"; }) },
        hovertemplate: "%{x}: %{y:.1f} " + unit + "<extra></extra>" },
      { type: "scatter", mode: "lines+markers", name: "cumulative %", x: items.map(function (i) { return i.label; }),
        y: cumulative, yaxis: "y2", line: { color: "#38bdf8", width: 3 }, hovertemplate: "%{y:.0f} %<extra></extra>" },
    ], layout({
      showlegend: false, margin: { l: 60, r: 50, t: 10, b: 90 },
      yaxis: { title: { text: unit }, gridcolor: GRID },
      yaxis2: { overlaying: "y", side: "right", range: [0, 105], tickvals: [0, 25, 50, 75, 100],
                ticktext: ["0 %", "25 %", "50 %", "75 %", "100 %"], showgrid: false },
    }), CONFIG);
  };

  charts.downtimeItems = function (rows, toValue) {
    var special = { "Unexplained": "#eab308", "No data": "#6b7280", "Small stops": "#a78bfa" };
    return rows.map(function (row) {
      return { label: row.reason, value: toValue(row), colour: special[row.reason] };
    });
  };

  charts.waterfall = function (node, steps) {
    Plotly.react(node, [{
      type: "waterfall", orientation: "v",
      measure: steps.map(function (s) { return s.measure; }),
      x: steps.map(function (s) { return s.label.split(" ").join("<br>"); }),
      y: steps.map(function (s) { return s.hours; }),
      text: steps.map(function (s) { return s.measure === "total" ? "" : Math.abs(s.hours).toFixed(2) + " h"; }),
      textposition: "outside",
      connector: { line: { color: "#3b4a5c" } },
      increasing: { marker: { color: "#22c55e" } },
      decreasing: { marker: { color: "#ef4444" } },
      totals: { marker: { color: "#38bdf8" } },
      hovertemplate: "%{x}: %{y:.2f} h<extra></extra>",
    }], layout({
      showlegend: false, margin: { l: 60, r: 20, t: 30, b: 60 }, yaxis: { title: { text: "hours" }, gridcolor: GRID },
      xaxis: { tickangle: 0, gridcolor: "rgba(0,0,0,0)" },
    }), CONFIG);
  };

  charts.trend = function (node, trend, target, lineCode) {
    if (!trend.length) return empty(node, "No shift in this period yet.");
    var labels = trend.map(function (t) { return t.label; });
    var traces = [{
      type: "scatter", mode: "lines+markers", name: lineCode + " (line)", x: labels,
      y: trend.map(function (t) { return t.oee === null ? null : 100 * t.oee; }),
      line: { color: "#38bdf8", width: 4 }, marker: { size: 9 },
    }];
    var machines = Object.keys(trend[0].machines || {});
    var palette = ["#a78bfa", "#f472b6", "#fb923c", "#facc15", "#4ade80"];
    machines.forEach(function (code, i) {
      traces.push({
        type: "scatter", mode: "lines", name: code, x: labels,
        y: trend.map(function (t) { var v = t.machines[code]; return v === null || v === undefined ? null : 100 * v; }),
        line: { color: palette[i % palette.length], width: 1.5, dash: "dot" },
      });
    });
    traces.push({
      type: "scatter", mode: "lines", name: "target", x: [labels[0], labels[labels.length - 1]],
      y: [100 * target, 100 * target], line: { color: "#22c55e", width: 2, dash: "dash" }, hoverinfo: "skip",
    });
    Plotly.react(node, traces, layout({
      margin: { l: 60, r: 20, t: 30, b: 90 }, yaxis: { ticksuffix: " %", rangemode: "tozero", gridcolor: GRID },
      xaxis: { type: "category", gridcolor: GRID },
    }), CONFIG);
  };
})();
