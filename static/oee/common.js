/* OEE Live: what every page shares — the JSON API, a toast, one ticking timer, the live
 * websocket with automatic reconnection, and swapping in the tiles the server draws.
 * Plain JavaScript, no build step.
 *
 * Pages run for days on kiosk screens: nothing here keeps a growing list, every timer is
 * cleared before it is set again, and nodes are replaced rather than appended.
 */
(function () {
  "use strict";

  var OEE = (window.OEE = {});

  /* ---- words: from Django's JavaScript catalog (/jsi18n/), English where it is not loaded ---- */

  /** The text of msgid in the page's language. */
  OEE.t = function (msgid) { return typeof window.gettext === "function" ? window.gettext(msgid) : msgid; };
  /** The text of msgid with its %(name)s filled in from values. */
  OEE.tf = function (msgid, values) {
    return OEE.t(msgid).replace(/%\(([a-z_]+)\)s/g, function (all, name) {
      return values[name] === undefined ? all : String(values[name]);
    });
  };

  /* ---- what ticks in the browser: how long a state or a stop has lasted (oee_format.duration) ---- */

  /** 75 → "1:15", 3725 → "1:02:05": stop and state durations. */
  OEE.duration = function (seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  };

  /** "2 h 05 min", "12 min", "40 s": lengths too long to tick. */
  OEE.length = function (seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min";
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  };

  var formatters = {};
  function formatter(zone, withDay) {
    var key = zone + (withDay ? "|day" : "");
    if (!formatters[key]) {
      var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone || undefined };
      if (withDay) options.weekday = "short";
      // The weekday in the page's language ("lun." in French); the clock is 24 h in every one.
      formatters[key] = new Intl.DateTimeFormat(document.documentElement.lang || "en-GB", options);
    }
    return formatters[key];
  }

  var secondFormatters = {};
  /** An instant (ms) as HH:MM:SS at the site, 24 h. */
  OEE.clockSeconds = function (ms, zone) {
    var key = zone || "";
    if (!secondFormatters[key]) {
      secondFormatters[key] = new Intl.DateTimeFormat("en-GB", {
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: zone || undefined,
      });
    }
    return secondFormatters[key].format(new Date(ms));
  };

  /** An ISO instant as HH:MM at the site (with the weekday when it is not within the next day). */
  OEE.clock = function (iso, zone, withDayIfFar) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date)) return "";
    var far = withDayIfFar && Math.abs(date.getTime() - OEE.now()) > 20 * 3600 * 1000;
    return formatter(zone, far).format(date);
  };

  /* ---- server time: durations are measured against the server's clock, not the kiosk's ---- */

  var skew = 0;
  OEE.syncClock = function (serverIso) {
    var server = Date.parse(serverIso);
    if (!isNaN(server)) {
      skew = server - Date.now();
      if (lastUpdate === null) lastUpdate = server;  // the page was drawn then
    }
  };
  OEE.now = function () { return Date.now() + skew; };

  /* ---- the JSON API ---- */

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  OEE.api = function (url, options) {
    options = options || {};
    var init = { method: options.method || "GET", credentials: "same-origin", cache: "no-store",
                 headers: { "Accept": "application/json" } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = cookie("csrftoken");
      init.body = JSON.stringify(options.body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var detail = data && (data.detail || Object.values(data).flat().join(" ")) || response.statusText;
          var error = new Error(detail || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  };

  OEE.query = function (params) {
    return Object.keys(params).filter(function (k) { return params[k]; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  };

  /* ---- a toast: one element, one timer ---- */

  var toastTimer = null;
  OEE.toast = function (text, isError) {
    var toast = document.getElementById("toast");
    if (!toast) return;
    toast.textContent = text;
    toast.classList.toggle("error", !!isError);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, isError ? 6000 : 3000);
  };

  /* ---- one ticking timer for the whole page ---- */

  var tickers = [];
  OEE.onTick = function (fn) { tickers.push(fn); };
  setInterval(function () {
    for (var i = 0; i < tickers.length; i++) {
      try { tickers[i](); } catch (e) { console.error(e); }
    }
  }, 1000);

  /** Elements with data-since="ISO" show how long ago that was, ticking every second. */
  OEE.updateSince = function (root) {
    var now = OEE.now();
    var nodes = (root || document).querySelectorAll("[data-since]");
    for (var i = 0; i < nodes.length; i++) {
      var since = Date.parse(nodes[i].dataset.since);
      nodes[i].textContent = isNaN(since) ? "" : OEE.duration((now - since) / 1000);
    }
  };
  OEE.onTick(function () { OEE.updateSince(); });

  /* ---- live connection status (top bar dot and the "reconnecting" banner) ---- */

  OEE.showStatus = function (state, message) {
    var dot = document.getElementById("live-status");
    var banner = document.getElementById("reconnecting");
    if (dot) {
      dot.hidden = false;
      dot.dataset.state = state;
      dot.querySelector(".label").textContent = state === "live" ? OEE.t("Live")
        : state === "failed" ? OEE.t("Offline") : state === "connecting" ? OEE.t("Connecting") : OEE.t("Reconnecting");
    }
    if (banner) {
      banner.hidden = !(state === "reconnecting" || state === "failed");
      banner.classList.toggle("failed", state === "failed");
      banner.querySelector(".reconnecting-text").textContent =
        message || (state === "failed" ? OEE.t("Not connected") : OEE.t("Connection lost — reconnecting…"));
    }
    document.body.classList.toggle("stale", state !== "live");
  };

  /* ---- a screen that is not live does not look live ---- */

  /** Seconds without a connection after which the state blocks go grey: a blip of a reconnect does not flash. */
  OEE.DISCONNECTED_AFTER_S = 5;
  var disconnectTimer = null, lastUpdate = null;

  /** Every live tile shown greyed, with when the page last heard from the server (site time, 24 h). */
  function showDisconnected() {
    disconnectTimer = null;
    var zoneNode = document.querySelector("[data-site-tz]");
    var text = OEE.tf("last update %(time)s",
                      { time: lastUpdate === null ? "—" : OEE.clockSeconds(lastUpdate, zoneNode && zoneNode.dataset.siteTz) });
    document.body.classList.add("disconnected");
    var tiles = document.querySelectorAll("[data-tile]");
    for (var i = 0; i < tiles.length; i++) {
      var note = tiles[i].querySelector(".last-update");
      if (!note) {
        // In place of the state's ticking timer (hidden meanwhile), else at the top of the tile.
        note = OEE.el("span", { class: "last-update", role: "status" });
        var since = tiles[i].querySelector('[data-field="since"]');
        if (since) since.after(note); else tiles[i].prepend(note);
      }
      note.textContent = text;
    }
  }

  /** The live state of the page's socket: greyed 5 s after it is lost, in colour again with fresh data. */
  OEE.liveness = function (state) {
    if (state === "live") {
      clearTimeout(disconnectTimer);
      disconnectTimer = null;
      document.body.classList.remove("disconnected");
      var notes = document.querySelectorAll(".last-update");
      for (var i = 0; i < notes.length; i++) notes[i].remove();
    } else if (disconnectTimer === null && !document.body.classList.contains("disconnected")) {
      disconnectTimer = setTimeout(showDisconnected, OEE.DISCONNECTED_AFTER_S * 1000);
    }
  };
  /** The page heard from the server now (a snapshot or an update). */
  OEE.heard = function () { lastUpdate = OEE.now(); };

  /**
   * A websocket that keeps itself connected: on any loss it reconnects with exponential
   * back-off (0.5 s doubling to a 10 s cap, with jitter); the server answers every new
   * connection with a fresh snapshot. A ping every 15 s finds connections that died silently.
   */
  OEE.LiveSocket = function (path, handlers) {
    // The tiles come drawn in the language the page was drawn in.
    var language = document.documentElement.lang;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path +
      (language ? (path.indexOf("?") < 0 ? "?" : "&") + "lang=" + encodeURIComponent(language) : "");
    var socket = null, attempt = 0, retryTimer = null, pingTimer = null, lastMessage = 0, stopped = false;
    var everLive = false;

    function status(state, message) {
      if (handlers.onStatus) handlers.onStatus(state);
      OEE.showStatus(state, message);
      OEE.liveness(state);
    }

    function clearTimers() {
      clearTimeout(retryTimer); retryTimer = null;
      clearInterval(pingTimer); pingTimer = null;
    }

    function connect() {
      clearTimers();
      if (stopped) return;
      status(everLive || attempt ? "reconnecting" : "connecting");
      try {
        socket = new WebSocket(url);
      } catch (e) {
        scheduleRetry();
        return;
      }
      socket.onopen = function () {
        lastMessage = Date.now();
        pingTimer = setInterval(function () {
          if (Date.now() - lastMessage > 35000) {
            socket.close();  // silent for too long: treat as lost
            return;
          }
          if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
        }, 15000);
      };
      socket.onmessage = function (event) {
        lastMessage = Date.now();
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg.type === "snapshot") {
          attempt = 0;
          everLive = true;
          OEE.heard();
          // Fresh data first, then colour: the page never shows the old state in full colour.
          // (In colour even if drawing one tile failed: the socket is live and updates keep coming.)
          try {
            if (handlers.onSnapshot) handlers.onSnapshot(msg.machines || []);
          } finally {
            status("live");
          }
        } else if (msg.type === "machine") {
          OEE.heard();
          if (handlers.onMachine) handlers.onMachine(msg);
        } else if (msg.type === "pong") {
          OEE.heard();
        }
      };
      socket.onclose = function (event) {
        clearTimers();
        socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
        socket = null;
        if (stopped) return;
        if (event.code === 4401) {
          location.assign("/accounts/login/?next=" + encodeURIComponent(location.pathname + location.search));
          return;
        }
        if (event.code === 4403 || event.code === 4404) {
          if (handlers.onRefused && handlers.onRefused(event.code)) return;
          status("failed", event.code === 4403 ? OEE.t("You may not watch this line.") : OEE.t("Unknown line or machine."));
          return;
        }
        scheduleRetry();
      };
      socket.onerror = function () { /* onclose follows and retries */ };
    }

    function scheduleRetry() {
      status("reconnecting");
      var delay = Math.min(10000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
      attempt = Math.min(attempt + 1, 10);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, delay);
    }

    // Back on the network: try now rather than at the end of the back-off.
    window.addEventListener("online", function () {
      if (!socket) { attempt = 0; connect(); }
    });

    connect();
    return {
      close: function () { stopped = true; clearTimers(); if (socket) socket.close(); },
    };
  };

  /* ---- small DOM helpers ---- */

  /** el("div", {class: "x", text: "y"}, [children]) */
  OEE.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  };

  /**
   * Puts a live tile's new HTML in place of the one on the page: the element with the same
   * data-tile and data-machine (or data-line), unless the page already shows a newer one.
   * The server draws every tile (monitoring/live/tiles.py); the browser only swaps it in.
   */
  OEE.swap = function (html) {
    if (!html) return null;
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var fresh = template.content.firstElementChild;
    if (!fresh || !fresh.dataset.tile) return null;
    var key = fresh.dataset.machine !== undefined ? "machine" : "line";
    var selector = '[data-tile="' + fresh.dataset.tile + '"][data-' + key + '="' + CSS.escape(fresh.dataset[key]) + '"]';
    var current = document.querySelector(selector);
    if (!current) return null;
    if (current.dataset.ts && fresh.dataset.ts && Date.parse(fresh.dataset.ts) < Date.parse(current.dataset.ts)) {
      return null;  // computed before the one shown: older news
    }
    current.replaceWith(fresh);
    OEE.updateSince(fresh);
    return fresh;
  };

  /** Every tile of a live message that this page shows. */
  OEE.swapAll = function (message) {
    var html = message.html || {};
    Object.keys(html).forEach(function (name) { OEE.swap(html[name]); });
  };
})();
