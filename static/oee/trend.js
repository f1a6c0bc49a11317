/* Trend charts (downtime per reason group and per machine, OEE and its factors, MTTR per week or
 * month) and the before/after chart of the period comparison. The numbers come from the server. */
(function () {
  "use strict";

  var script = document.getElementById("chart-data");
  if (!script) return;
  var data = JSON.parse(script.textContent);
  if (!data) return;
  var charts = OEE.charts;
  var CONFIG = charts.config;  // the page's language for dates and numbers
  var PALETTE = ["#38bdf8", "#f59e0b", "#ef4444", "#a78bfa", "#22c55e", "#f472b6", "#94a3b8", "#14b8a6"];

  function draw(id, traces, extra) {
    var node = document.getElementById(id);
    if (!node) return;
    if (!traces.length) {
      node.replaceChildren(OEE.el("div", { class: "stops-empty", text: gettext("Nothing in this period.") }));
      return;
    }
    // A chart taller than its box (one bar pair per loss and reason) gets the height it needs.
    if (extra && extra.height) node.style.height = extra.height + "px";
    // On a phone, the periods under the x axis slant and thin out so none is cut or overlaps another.
    if (!data.compare) {
      extra = Object.assign({}, extra, { xaxis: Object.assign({}, (extra || {}).xaxis, charts.narrowCategories(node, data.labels)) });
    }
    Plotly.newPlot(node, traces, charts.layout(extra || {}), CONFIG);
  }

  function bars(series, labels, unit) {
    return series.map(function (s, i) {
      return { type: "bar", name: s.name, x: labels, y: s.hours, marker: { color: PALETTE[i % PALETTE.length] },
               hovertemplate: "%{x}<br>" + s.name + ": %{y:.2f} " + unit + "<extra></extra>" };
    });
  }

  if (data.compare) {
    var names = data.compare.map(function (r) { return r.name; });
    draw("chart-compare", [
      { type: "bar", orientation: "h", name: gettext("Before"), y: names, x: data.compare.map(function (r) { return r.before; }),
        marker: { color: "#94a3b8" }, hovertemplate: "%{y}: %{x:.2f} h<extra>" + gettext("before") + "</extra>" },
      { type: "bar", orientation: "h", name: gettext("After"), y: names, x: data.compare.map(function (r) { return r.after; }),
        marker: { color: "#38bdf8" }, hovertemplate: "%{y}: %{x:.2f} h<extra>" + gettext("after") + "</extra>" },
    ], { barmode: "group", yaxis: { autorange: "reversed", automargin: true }, xaxis: { title: { text: gettext("hours") } },
         height: Math.max(320, 46 * names.length) });
    return;
  }

  var labels = data.labels;
  draw("chart-reasons", bars(data.reason_groups, labels, "h"), { barmode: "stack", yaxis: { title: { text: "h" } } });
  draw("chart-machines", bars(data.machines, labels, "h"), { barmode: "group", yaxis: { title: { text: "h" } } });
  var figureNames = { oee: gettext("OEE"), availability: gettext("Availability"), performance: gettext("Performance"),
                      quality: gettext("Quality") };
  var figureTraces = Object.keys(figureNames).map(function (key, i) {
    return { type: "scatter", mode: "lines+markers", name: figureNames[key], x: labels,
             y: data.figures[key].map(function (v) { return v === null ? null : v * 100; }),
             line: { width: key === "oee" ? 4 : 2, color: PALETTE[i] },
             hovertemplate: "%{x}<br>" + figureNames[key] + ": %{y:.1f} %<extra></extra>" };
  });
  if (labels.length) {
    figureTraces.push({ type: "scatter", mode: "lines", name: gettext("OEE target"), x: [labels[0], labels[labels.length - 1]],
                        y: [data.target * 100, data.target * 100], line: { dash: "dot", color: "#22c55e", width: 1 },
                        hoverinfo: "skip" });
  }
  draw("chart-oee", labels.length ? figureTraces : [], { yaxis: { title: { text: "%" }, rangemode: "tozero" } });
  draw("chart-mttr", data.machines.map(function (m, i) {
    return { type: "scatter", mode: "lines+markers", name: m.name, x: labels, y: m.mttr_h, connectgaps: false,
             line: { color: PALETTE[i % PALETTE.length] }, hovertemplate: "%{x}<br>" + m.name + " MTTR: %{y:.2f} h<extra></extra>" };
  }).filter(function (t) { return t.y.some(function (v) { return v !== null; }); }), { yaxis: { title: { text: "h" } } });
})();
