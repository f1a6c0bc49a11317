/* The andon banner (line screen and overview): drawn by the server (monitoring/alerts/banner.py),
 * asked for again every data-poll-s seconds and right after an acknowledgement, and swapped in whole.
 * The server decides which alerts show and who gets an Acknowledge button; this only posts the touch.
 */
(function () {
  "use strict";

  var banner = document.getElementById("alert-banner");
  if (!banner) return;
  var url = banner.dataset.url;
  var every = Math.max(1, Number(banner.dataset.pollS) || 10);
  var waited = 0, asking = false;

  function refresh() {
    if (asking) return;
    asking = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        var fresh = template.content.firstElementChild;
        var current = document.getElementById("alert-banner");
        if (fresh && fresh.id === "alert-banner" && current) {
          current.replaceWith(fresh);
          OEE.updateSince(fresh);
        }
      })
      .catch(function () { /* offline or logged out: the live status says so; try again next round */ })
      .then(function () { asking = false; waited = 0; });
  }

  // One timer for the page (OEE.onTick): a kiosk runs for days.
  OEE.onTick(function () {
    waited += 1;
    if (waited >= every) refresh();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("#alert-banner [data-action=acknowledge]");
    if (!button) return;
    button.disabled = true;
    OEE.api("/api/v1/alerts/" + encodeURIComponent(button.dataset.alert) + "/acknowledge/", { method: "POST", body: {} })
      .then(function (answer) {
        var who = answer.alert.acknowledged_by;
        OEE.toast(answer.acknowledged ? gettext("Alert acknowledged")
          : interpolate(gettext("Already acknowledged by %(user)s"), { user: who }, true));
        refresh();
      })
      .catch(function (error) { button.disabled = false; OEE.toast(interpolate(gettext("Not acknowledged: %(why)s"), { why: error.message }, true), true); });
  });
})();
