/* Plotly charts in the dark theme: state timeline, parts per hour, downtime Pareto, the six
 * big losses as a waterfall and the OEE trend. Plotly is served from our own static files. */
(function () {
  "use strict";

  /* Words from Django's JavaScript catalog (/jsi18n/), English where it is not loaded. */
  var gettext = typeof window.gettext === "function" ? window.gettext : function (msgid) { return msgid; };
  /** msgid's text (already translated) with its %(name)s filled in from values. */
  function fill(text, values) {
    return text.replace(/%\(([a-z_]+)\)s/g, function (all, name) {
      return values[name] === undefined ? all : String(values[name]);
    });
  }

  /* Numbers and dates in the page's language (<html lang>): "1,5 h" in French and German. */
  var LANG = document.documentElement.lang || "en";
  var numberFormats = {};
  /** value with `digits` decimals in the page's language. */
  function number(value, digits) {
    if (!numberFormats[digits]) {
      numberFormats[digits] = new Intl.NumberFormat(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    }
    return numberFormats[digits].format(value);
  }

  /** Plotly's words for dates and numbers in the page's language, taken from the browser's Intl. */
  function registerLocale() {
    if (typeof Plotly === "undefined" || /^en\b/.test(LANG)) return undefined;
    var names = function (options, dates) {
      var format = new Intl.DateTimeFormat(LANG, Object.assign({ timeZone: "UTC" }, options));
      return dates.map(function (date) { return format.format(date); });
    };
    var week = [0, 1, 2, 3, 4, 5, 6].map(function (i) { return new Date(Date.UTC(2024, 0, 7 + i)); });  // from a Sunday
    var year = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(function (m) { return new Date(Date.UTC(2024, m, 15)); });
    var parts = new Intl.NumberFormat(LANG).formatToParts(12345.6);
    var part = function (type, dflt) {
      var found = parts.filter(function (p) { return p.type === type; })[0];
      return found ? found.value : dflt;
    };
    Plotly.register({
      moduleType: "locale", name: LANG, dictionary: {},
      format: {
        days: names({ weekday: "long" }, week), shortDays: names({ weekday: "short" }, week),
        months: names({ month: "long" }, year), shortMonths: names({ month: "short" }, year),
        decimal: part("decimal", "."), thousands: part("group", ","),
      },
    });
    return LANG;
  }

  var COLOURS = { running: "#22c55e", stopped: "#ef4444", "no-data": "#6b7280" };
  var STATE_NAMES = { running: gettext("Running"), stopped: gettext("Stopped"), "no-data": gettext("No data") };  // the legend's names
  var TEXT = "#dfe6ee", GRID = "#243040";
  var CONFIG = { displayModeBar: false, responsive: true };
  // Plotly reads config.locale whenever the key is there: undefined (English pages) breaks every chart.
  var plotlyLocale = registerLocale();
  if (plotlyLocale) CONFIG.locale = plotlyLocale;
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

  /** Whether a chart is as narrow as a phone held upright (390 px screens): it then lays its words out to fit. */
  function narrow(node) { return node.clientWidth < 560; }

  /** On a narrow chart, the x axis's category labels slanted up to the left (none runs off the right edge),
   *  only every k-th so none overlap, in a margin grown to hold them; nothing on a wide one. */
  function narrowCategories(node, labels) {
    if (!narrow(node) || !labels || !labels.length) return {};
    var step = Math.max(1, Math.ceil((labels.length * 26) / Math.max(node.clientWidth - 100, 120)));
    return { tickangle: -45, automargin: true, tickfont: { size: 11 }, tickmode: "array",
             tickvals: labels.filter(function (label, i) { return i % step === 0; }) };
  }

  function empty(node, text) {
    node.replaceChildren(OEE.el("div", { class: "stops-empty", text: text }));
  }

  var charts = (OEE.charts = { wall: wall, layout: layout, config: CONFIG, number: number, fill: fill,
                                narrow: narrow, narrowCategories: narrowCategories });

  charts.timeline = function (node, stretches, period, zone) {
    if (!stretches.length) return empty(node, gettext("No states recorded in this period."));
    var traces = ["running", "stopped", "no-data"].map(function (state) {
      var mine = stretches.filter(function (s) { return s.state === state; });
      return {
        type: "bar", orientation: "h", name: STATE_NAMES[state], marker: { color: COLOURS[state] },
        y: mine.map(function () { return ""; }),
        base: mine.map(function (s) { return wall(s.start, zone); }),
        x: mine.map(function (s) { return Date.parse(s.end) - Date.parse(s.start); }),
        customdata: mine.map(function (s) {
          return [OEE.clock(s.start, zone), OEE.clock(s.end, zone), OEE.length(s.duration_s),
                  s.reason_name || (state === "stopped" ? gettext("no reason") : "")];
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
    if (!hours.length) return empty(node, gettext("No parts counted in this period."));
    var labels = hours.map(function (h) { return h.hour.slice(0, 16).replace("T", " "); });
    Plotly.react(node, [
      { type: "bar", name: gettext("Good"), x: labels, y: hours.map(function (h) { return h.good; }), marker: { color: "#22c55e" } },
      { type: "bar", name: gettext("Rejected"), x: labels, y: hours.map(function (h) { return h.reject; }), marker: { color: "#ef4444" } },
    ], layout({ barmode: "stack", xaxis: { type: "date", gridcolor: GRID }, yaxis: { title: { text: gettext("parts") }, gridcolor: GRID } }), CONFIG);
  };

  /** Bars largest first, and the cumulative share on a second axis. */
  charts.pareto = function (node, items, unit) {
    if (!items.length) return empty(node, gettext("No downtime in this period."));
    var values = items.map(function (i) { return i.value; });
    var sum = values.reduce(function (a, b) { return a + b; }, 0);
    var running = 0;
    var cumulative = values.map(function (v) { running += v; return sum ? (100 * running) / sum : 0; });
    Plotly.react(node, [
      { type: "bar", name: unit, x: items.map(function (i) { return i.label; }), y: values,
        marker: { color: items.map(function (i) { return i.colour || "#f97316"; }) },
        hovertemplate: "%{x}: %{y:.1f} " + unit + "<extra></extra>" },
      { type: "scatter", mode: "lines+markers", name: gettext("cumulative %"), x: items.map(function (i) { return i.label; }),
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
    // The server's own labels (monitoring.lib.oee) come in English; the reasons are the plant's names.
    var names = { "Unexplained": gettext("Unexplained"), "No data": gettext("No data"), "Small stops": gettext("Small stops") };
    return rows.map(function (row) {
      return { label: names[row.reason] || row.reason, value: toValue(row), colour: special[row.reason] };
    });
  };

  charts.waterfall = function (node, steps) {
    // Seven steps side by side need a wall screen's width; on a phone they go top to bottom, named on the left.
    if (narrow(node)) return waterfallAcross(node, steps);
    Plotly.react(node, [{
      type: "waterfall", orientation: "v",
      measure: steps.map(function (s) { return s.measure; }),
      x: steps.map(function (s) { return s.label.split(" ").join("<br>"); }),
      y: steps.map(function (s) { return s.hours; }),
      text: steps.map(function (s) { return s.measure === "total" ? "" : number(Math.abs(s.hours), 2) + " h"; }),
      textposition: "outside",
      connector: { line: { color: "#3b4a5c" } },
      increasing: { marker: { color: "#22c55e" } },
      decreasing: { marker: { color: "#ef4444" } },
      totals: { marker: { color: "#38bdf8" } },
      hovertemplate: "%{x}: %{y:.2f} h<extra></extra>",
    }], layout({
      showlegend: false, margin: { l: 60, r: 20, t: 30, b: 60 }, yaxis: { title: { text: gettext("hours") }, gridcolor: GRID },
      xaxis: { tickangle: 0, gridcolor: "rgba(0,0,0,0)" },
    }), CONFIG);
  };

  function waterfallAcross(node, steps) {
    Plotly.react(node, [{
      type: "waterfall", orientation: "h",
      measure: steps.map(function (s) { return s.measure; }),
      y: steps.map(function (s) { return s.label; }),
      x: steps.map(function (s) { return s.hours; }),
      text: steps.map(function (s) { return s.measure === "total" ? "" : number(Math.abs(s.hours), 2) + " h"; }),
      textposition: "outside", cliponaxis: false,
      connector: { line: { color: "#3b4a5c" } },
      increasing: { marker: { color: "#22c55e" } },
      decreasing: { marker: { color: "#ef4444" } },
      totals: { marker: { color: "#38bdf8" } },
      hovertemplate: "%{y}: %{x:.2f} h<extra></extra>",
    }], layout({
      showlegend: false, font: { size: 12 }, margin: { l: 10, r: 40, t: 10, b: 40 },
      yaxis: { autorange: "reversed", automargin: true, gridcolor: "rgba(0,0,0,0)" },
      xaxis: { title: { text: gettext("hours") }, gridcolor: GRID },
    }), CONFIG);
  }

  charts.trend = function (node, trend, target, lineCode) {
    if (!trend.length) return empty(node, gettext("No shift in this period yet."));
    var labels = trend.map(function (t) { return t.label; });
    var traces = [{
      type: "scatter", mode: "lines+markers", name: fill(gettext("%(line)s (line)"), { line: lineCode }), x: labels,
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
      type: "scatter", mode: "lines", name: gettext("target"), x: [labels[0], labels[labels.length - 1]],
      y: [100 * target, 100 * target], line: { color: "#22c55e", width: 2, dash: "dash" }, hoverinfo: "skip",
    });
    Plotly.react(node, traces, layout({
      margin: { l: 60, r: 20, t: 30, b: 90 }, yaxis: { ticksuffix: " %", rangemode: "tozero", gridcolor: GRID },
      xaxis: Object.assign({ type: "category", gridcolor: GRID }, narrowCategories(node, labels)),
    }), CONFIG);
  };
})();
