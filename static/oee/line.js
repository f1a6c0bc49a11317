/* Line screen: each machine's panel is drawn by the server and swapped in from /ws/lines/<code>/.
 * The server decides which stops need a reason and which actions a panel offers (its buttons);
 * this script opens the touch sheets those buttons ask for — reasons, split, scrap — and posts.
 *
 * Built to run for days in a kiosk browser: a fixed set of timers, and every redraw replaces
 * nodes instead of adding to them.
 */
(function () {
  "use strict";

  var root = document.getElementById("line-screen");
  if (!root) return;
  var lineCode = root.dataset.line;
  var zone = root.dataset.siteTz;

  OEE.syncClock(root.dataset.serverNow);
  OEE.updateSince();

  /* ---- clock ---- */
  var clock = document.getElementById("clock");
  function tickClock() { clock.textContent = OEE.clock(new Date(OEE.now()).toISOString(), zone); }
  tickClock();
  OEE.onTick(tickClock);

  /* ---- live panels ---- */

  var drawnAt = Date.parse(root.dataset.serverNow);
  function apply(message) {
    // A new shift has its own title, timeline and figures: start the page afresh. Only news from
    // after the page was drawn can say so; an older message is of the shift the page shows.
    if ((message.shift ? message.shift.start : "") !== root.dataset.shiftStart) {
      if (Date.parse(message.ts) > drawnAt) location.reload();
      return;
    }
    OEE.swapAll(message);
  }

  /* ---- touch sheets: reasons, split, scrap ---- */

  function panelOf(code) {
    return document.querySelector('.machine-panel[data-machine="' + CSS.escape(code) + '"]');
  }
  function machineName(code) {
    var panel = panelOf(code);
    return panel ? panel.querySelector(".mp-name").textContent : code;
  }

  var reasons = {};  // "stop" | "scrap" → what the server says may be chosen
  function loadReasons(purpose) {
    if (reasons[purpose]) return Promise.resolve(reasons[purpose]);
    return OEE.api("/api/v1/reasons/?for=" + purpose).then(function (tree) {
      reasons[purpose] = tree || [];
      return reasons[purpose];
    });
  }

  var sheet = null;
  function openSheet(title, subtitle, body, footer) {
    closeSheet();
    var closeButton = OEE.el("button", { type: "button", class: "touch ghost", text: OEE.t("Cancel"), onclick: closeSheet });
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

  /** The stop a button belongs to, as the server listed it. */
  function stopOf(button) {
    return { machine: button.dataset.machine, start: button.dataset.stopStart, end: button.dataset.stopEnd || null };
  }

  function stopLabel(stop) {
    var end = stop.end ? Date.parse(stop.end) : OEE.now();
    return OEE.tf("stop at %(time)s", { time: OEE.clock(stop.start, zone) }) + " · " +
      OEE.length((end - Date.parse(stop.start)) / 1000);
  }

  function openReasons(stop, splitAt) {
    var subtitle = machineName(stop.machine) + " · " + stopLabel(stop) +
      (splitAt ? " · " + OEE.tf("from %(time)s on", { time: OEE.clock(splitAt, zone) }) : "");
    var grid = OEE.el("div", { class: "choice-grid" });
    openSheet(OEE.t("Why did it stop?"), subtitle, OEE.el("div", {}, [grid]));
    var showGroups = function (tree) {
      grid.replaceChildren.apply(grid, tree.map(function (group) {
        var leaf = !group.children.length;
        return OEE.el("button", {
          type: "button", class: "choice" + (group.planned ? " planned" : ""), "data-reason-group": group.code,
          onclick: function () { if (leaf) give(stop, group, splitAt); else showChildren(group, tree); },
        }, [group.name, OEE.el("small", {
          text: leaf ? "" : group.children.length === 1 ? OEE.tf("%(count)s reason ›", { count: 1 })
            : OEE.tf("%(count)s reasons ›", { count: group.children.length }),
        })]);
      }));
    };
    var showChildren = function (group, tree) {
      var back = OEE.el("button", { type: "button", class: "choice", text: OEE.t("‹ Back"),
                                    onclick: function () { showGroups(tree); } });
      grid.replaceChildren.apply(grid, [back].concat(group.children.map(function (reason) {
        return OEE.el("button", {
          type: "button", class: "choice" + (reason.planned ? " planned" : ""), "data-reason": reason.code,
          onclick: function () { give(stop, reason, splitAt); },
        }, [reason.name, OEE.el("small", { text: group.name })]);
      })));
    };
    loadReasons("stop").then(showGroups).catch(function (error) {
      grid.replaceChildren(OEE.el("p", { class: "form-error", text: OEE.t("Could not load the reasons:") + " " + error.message }));
    });
  }

  function give(stop, reason, splitAt) {
    var body = { stop_start: stop.start, reason: reason.code };
    if (splitAt) body.split_at = splitAt;
    OEE.api("/api/v1/machines/" + encodeURIComponent(stop.machine) + "/reasons/", { method: "POST", body: body })
      .then(function () {
        closeSheet();
        OEE.toast(OEE.t("Reason given:") + " " + reason.name);
      })
      .catch(function (error) { OEE.toast(OEE.t("Not saved:") + " " + error.message, true); });
  }

  function openSplit(stop) {
    var start = Date.parse(stop.start);
    var end = stop.end ? Date.parse(stop.end) : OEE.now();
    var step = 60 * 1000;
    var min = start + step, max = Math.max(min, end - step);
    var at = start + Math.round((end - start) / 2 / step) * step;
    var value = OEE.el("span", { class: "value" });
    var range = OEE.el("input", { type: "range", min: String(min), max: String(max), step: String(step), value: String(at),
                                  "aria-label": OEE.t("split time") });
    var show = function () {
      at = Number(range.value);
      value.textContent = OEE.clock(new Date(at).toISOString(), zone);
    };
    range.addEventListener("input", show);
    var nudge = function (delta) { range.value = String(Math.min(max, Math.max(min, at + delta))); show(); };
    var body = OEE.el("div", { class: "split-box" }, [
      OEE.el("div", { class: "split-row" }, [
        OEE.t("Two causes? The part before stays in the list for its own reason. Split at"),
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
        type: "button", class: "touch primary", text: OEE.t("Next: reason from this time on ›"),
        onclick: function () { openReasons(stop, new Date(at).toISOString()); },
      }),
    ]);
    openSheet(OEE.t("Split stop"), machineName(stop.machine) + " · " + stopLabel(stop), body, footer);
    show();
  }

  function openScrap(code) {
    var quantity = 1, chosen = null;
    var qty = OEE.el("span", { class: "qty", text: "1", "data-field": "scrap-quantity" });
    var change = function (delta) { quantity = Math.max(1, Math.min(100000, quantity + delta)); qty.textContent = quantity; };
    var choices = OEE.el("div", { class: "choice-grid" });
    var submit = OEE.el("button", { type: "button", class: "touch danger", text: OEE.t("Enter scrap"), onclick: function () {
      submit.disabled = true;
      var body = { quantity: quantity };
      if (chosen) body.reason = chosen.code;
      OEE.api("/api/v1/machines/" + encodeURIComponent(code) + "/scrap/", { method: "POST", body: body })
        .then(function () { closeSheet(); OEE.toast(OEE.tf("%(quantity)s scrapped on %(machine)s", { quantity: quantity, machine: machineName(code) })); })
        .catch(function (error) { submit.disabled = false; OEE.toast(OEE.t("Not saved:") + " " + error.message, true); });
    } });
    var body = OEE.el("div", {}, [
      OEE.el("div", { class: "qty-row" }, [
        OEE.el("button", { type: "button", class: "touch", text: "−10", onclick: function () { change(-10); } }),
        OEE.el("button", { type: "button", class: "touch", text: "−1", onclick: function () { change(-1); } }),
        qty,
        OEE.el("button", { type: "button", class: "touch", text: "+1", onclick: function () { change(1); } }),
        OEE.el("button", { type: "button", class: "touch", text: "+10", onclick: function () { change(10); } }),
      ]),
      OEE.el("h3", { text: OEE.t("Reason (optional)") }),
      choices,
    ]);
    openSheet(OEE.t("Scrap"), machineName(code) + " · " + OEE.t("parts to scrap"), body, OEE.el("div", { class: "sheet-foot" }, [submit]));
    loadReasons("scrap").then(function (list) {
      var buttons = list.map(function (reason) {
        var button = OEE.el("button", { type: "button", class: "choice", text: reason.name, onclick: function () {
          chosen = chosen === reason ? null : reason;
          buttons.forEach(function (b) { b.classList.toggle("selected", chosen && b === button); });
        } });
        return button;
      });
      choices.replaceChildren.apply(choices, buttons);
    }).catch(function () { choices.replaceChildren(); });
  }

  // Each status a literal, as board.js has them: makemessages finds no word in OEE.t(order.status).
  var ORDER_STATUSES = {
    planned: pgettext("work order status", "planned"), released: pgettext("work order status", "released"),
    running: pgettext("work order status", "running"), paused: pgettext("work order status", "paused"),
    completed: pgettext("work order status", "completed"), cancelled: pgettext("work order status", "cancelled"),
  };

  function moveOrder(button) {
    var number = button.dataset.order, move = button.dataset.move;
    button.disabled = true;
    OEE.api("/api/v1/work-orders/" + encodeURIComponent(number) + "/" + encodeURIComponent(move) + "/",
            { method: "POST", body: {} })
      .then(function (order) { OEE.toast(OEE.tf("Work order %(number)s: %(status)s", { number: number, status: ORDER_STATUSES[order.status] || order.status })); })
      .catch(function (error) { button.disabled = false; OEE.toast(OEE.t("Not done:") + " " + error.message, true); });
  }

  // The panels are replaced on every update: one listener on the page serves every button in them.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".machine-panel [data-action]");
    if (!button) return;
    var action = button.dataset.action;
    if (action === "reason") openReasons(stopOf(button), null);
    else if (action === "split") openSplit(stopOf(button));
    else if (action === "scrap") openScrap(button.dataset.machine);
    else if (action === "order") moveOrder(button);
  });

  /* ---- start ---- */

  // A line display (a TV's link) has a socket of its own, by its token; everyone else's is the line's.
  var display = !!root.dataset.socket;
  OEE.LiveSocket(root.dataset.socket || "/ws/lines/" + encodeURIComponent(lineCode) + "/", {
    onSnapshot: function (machines) {
      machines.forEach(apply);
      if (root.dataset.canOperate === "true") loadReasons("stop").catch(function () {});
    },
    onMachine: apply,
    // A display whose link was revoked: in a while the page says so (the server draws it), not a bare "offline".
    onRefused: function () {
      if (display) setTimeout(function () { location.reload(); }, 30000);
      return false;
    },
  });
})();
