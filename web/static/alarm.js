// Lakeshore Watch: the alarm of every review page (see web/alarm.py).
// A new alert sounds (tones made here with Web Audio: no sound file to fetch), raises a desktop
// notification where allowed and marks the tab title; an alert nobody acknowledged sounds again every
// alarm.<severity>.repeat_s; an escalated one shows in a banner. A page that cannot sound says so
// and offers a button; a page that lost the server says so. Nothing here fails silently.
"use strict";

(function () {
  const POLL_MS = 1000;
  const LOST_MS = 5000; // no answer for this long: the connection is called lost, loudly
  const RANK = { critical: 3, warning: 2, info: 1 };
  // [frequency Hz, start s, length s] per severity: a two-tone siren, a double beep, one soft beep.
  const TONES = {
    critical: [[880, 0, 0.22], [660, 0.25, 0.22], [880, 0.5, 0.22], [660, 0.75, 0.22]],
    warning: [[660, 0, 0.18], [660, 0.3, 0.18]],
    info: [[520, 0, 0.2]],
  };
  const BAR_MAX = 5;

  let root, stateUrl;
  let ctx = null; // the AudioContext, made at load; browsers keep it suspended until a user gesture
  let missed = 0; // alarms that should have sounded while the sound was blocked
  let lastOk = 0;
  let failure = null; // why the last poll failed
  const started = Date.now();
  let alarming = 0;

  function $(id) { return document.getElementById(id); }

  // Kept for the tab's life, across page changes: an alarm sounds again after repeat_s, not at
  // every click to another page, and an alert that arrived between two pages is still "new".
  function load(key, fallback) {
    try { const v = window.sessionStorage.getItem("lakeshore.alarm." + key); return v === null ? fallback : JSON.parse(v); }
    catch (err) { return fallback; }
  }
  function save(key, value) {
    try { window.sessionStorage.setItem("lakeshore.alarm." + key, JSON.stringify(value)); } catch (err) { /* private mode */ }
  }
  let since = load("since", null);
  let sounded = load("sounded", {}); // alert id -> when it last sounded here (ms)
  let notified = load("notified", {}); // "id" or "esc-id" -> true

  // ---- sound ---------------------------------------------------------------------------------
  function audio() {
    if (ctx) return ctx;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    try {
      ctx = new AC();
      ctx.addEventListener("statechange", showSound);
    } catch (err) {
      ctx = null;
    }
    return ctx;
  }

  function canSound() { return !!ctx && ctx.state === "running"; }

  function play(severity) {
    const c = audio();
    if (!c || c.state !== "running") {
      missed += 1;
      showSound();
      return false;
    }
    const t0 = c.currentTime + 0.03;
    for (const [freq, at, len] of TONES[severity] || TONES.info) {
      const osc = c.createOscillator();
      const gain = c.createGain();
      osc.type = severity === "critical" ? "square" : "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(severity === "info" ? 0.15 : 0.4, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + len);
      osc.connect(gain);
      gain.connect(c.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + len + 0.02);
    }
    root.dataset.sounded = String(parseInt(root.dataset.sounded || "0", 10) + 1);
    return true;
  }

  function arm() {
    const c = audio();
    if (c && c.state !== "running") {
      c.resume().then(showSound, showSound);
    }
    if ("Notification" in window && window.Notification.permission === "default" && arm.asked !== true) {
      arm.asked = true;
      try { window.Notification.requestPermission().then(showSound, showSound); } catch (err) { /* old API */ }
    }
    showSound();
  }

  function showSound() {
    const box = $("alarm-sound-off");
    const text = $("alarm-sound-off-text");
    if (!box || !text) return;
    if (canSound()) {
      box.hidden = true;
      root.dataset.sound = "on";
      return;
    }
    root.dataset.sound = ctx ? "blocked" : "unavailable";
    text.textContent = !ctx
      ? "This browser cannot play the alarm sound. Keep this page in view: alarms show here and in the tab title."
      : (missed ? missed + " alarm(s) could not sound. " : "") +
        "The alarm sound is OFF: the browser blocks it until you click on this page. " +
        "Press the button (and check that the speakers are on and this tab is not muted).";
    box.hidden = false;
  }

  // ---- desktop notifications --------------------------------------------------------------
  function notify(key, title, body, url, loud) {
    if (notified[key] || !("Notification" in window) || window.Notification.permission !== "granted") return;
    notified[key] = true;
    try {
      const n = new window.Notification(title, { body: body, tag: "lakeshore-" + key, requireInteraction: loud });
      n.onclick = function () { window.focus(); window.location.href = url; };
    } catch (err) { /* some browsers allow notifications only from a service worker */ }
  }

  // ---- the alarm bar and the escalation banner ----------------------------------------------
  function csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  async function acknowledge(url, button, note) {
    button.disabled = true;
    try {
      const r = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf() },
      });
      const data = await r.json().catch(function () { return {}; });
      if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
      const a = data.alert || {};
      note.textContent = data.acknowledged ? "acknowledged by you" : "already acknowledged by " + a.acked_by;
      poll.now();
    } catch (err) {
      button.disabled = false;
      note.textContent = "NOT acknowledged: " + err.message + ". Try again.";
    }
  }

  function openFor(s) {
    const m = Math.floor(s / 60);
    return m > 0 ? m + " min " + (s % 60) + " s" : s + " s";
  }

  function fill(box, list, data, heading) {
    box.replaceChildren();
    if (!list.length) { box.hidden = true; return; }
    const h = document.createElement("div");
    h.className = "alarm-heading";
    h.textContent = heading;
    box.appendChild(h);
    for (const a of list.slice(0, BAR_MAX)) {
      const item = document.createElement("div");
      item.className = "alarm-item sev-" + a.severity;
      item.dataset.id = String(a.id);
      const what = document.createElement("a");
      what.href = a.url;
      what.className = "alarm-what";
      what.textContent = a.severity.toUpperCase() + ": " + a.what;
      const where = document.createElement("span");
      where.className = "alarm-where";
      where.textContent = a.camera_name + " · " + a.time + " · open " + openFor(a.open_s);
      item.append(what, " ", where);
      const note = document.createElement("span");
      note.className = "alarm-note";
      if (data.can_ack) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "btn btn-ack btn-small alarm-ack";
        b.textContent = "Acknowledge";
        b.title = "I am handling it (the verdict comes later)";
        b.addEventListener("click", function () { acknowledge(data.ack_url.replace("{id}", a.id), b, note); });
        item.append(" ", b);
      }
      item.append(" ", note);
      box.appendChild(item);
    }
    if (list.length > BAR_MAX) {
      const more = document.createElement("div");
      more.className = "alarm-more";
      more.textContent = "and " + (list.length - BAR_MAX) + (list.length >= 100 ? "+" : "") + " more";
      box.appendChild(more);
    }
    box.hidden = false;
  }

  function setTitle(n) {
    const base = document.title.replace(/^\(\d+\+?\) (ALARM — )?/, "");
    if (n > 0) {
      document.documentElement.dataset.alarmTitle = "1";
      document.title = "(" + n + ") ALARM — " + base;
    } else if (document.documentElement.dataset.alarmTitle) {
      delete document.documentElement.dataset.alarmTitle;
      document.title = base;
    }
  }

  // ---- one answer of the server ---------------------------------------------------------------
  function handle(data) {
    const settings = data.settings;
    const now = Date.now();
    const loud = function (a) { return settings[a.severity] && settings[a.severity].sound; };
    let tone = null;
    const louder = function (sev) { if (!tone || RANK[sev] > RANK[tone]) tone = sev; };
    if (since !== null) {
      for (const a of data["new"]) {
        if (!loud(a)) continue;
        louder(a.severity);
        sounded[a.id] = now;
        notify(String(a.id), a.severity.toUpperCase() + " alarm: " + a.what, a.camera_name + " · " + a.time, a.url,
               a.severity === "critical");
      }
    }
    since = data.since;
    const live = {};
    for (const a of data.alarms) {
      live[a.id] = true;
      if (!loud(a)) continue;
      const repeat = settings[a.severity].repeat_s;
      const last = sounded[a.id];
      if (repeat > 0 && (last === undefined || now - last >= repeat * 1000 - POLL_MS / 2)) {
        louder(a.severity);
        sounded[a.id] = now;
      }
      if (a.escalated) {
        notify("esc-" + a.id, "ESCALATED: " + a.what, a.camera_name + " · not acknowledged since " + a.time, a.url, true);
      }
    }
    // Forget what no longer alarms (acknowledged, judged), so the stores stay small.
    for (const id of Object.keys(sounded)) if (!live[id] && now - sounded[id] > 60000) delete sounded[id];
    if (tone) play(tone);
    save("since", since);
    save("sounded", sounded);
    save("notified", notified);

    const escalated = data.alarms.filter(function (a) { return a.escalated; });
    const waiting = data.alarms.filter(function (a) { return !a.escalated && loud(a); });
    fill($("alarm-banner"), escalated, data,
         "ESCALATED: " + escalated.length + (escalated.length >= 100 ? "+" : "") + " alert(s) nobody acknowledged in time");
    fill($("alarm-bar"), waiting, data, "Alarm: " + waiting.length + " alert(s) waiting for an officer to acknowledge");
    alarming = escalated.length + waiting.length;
    root.dataset.alarming = String(alarming);
    setTitle(alarming);
  }

  // ---- the connection ---------------------------------------------------------------------
  function clock(ms) {
    const d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (x) { return String(x).padStart(2, "0"); }).join(":");
  }

  function showConn() {
    const heard = $("alarm-heard");
    const lost = $("alarm-conn-lost");
    const now = Date.now();
    const quiet = now - (lastOk || started);
    const isLost = quiet > LOST_MS || (failure && failure.indexOf("logged out") >= 0);
    if (heard) {
      heard.textContent = lastOk ? "Server: heard " + Math.round((now - lastOk) / 1000) + " s ago" : "Server: connecting…";
      heard.classList.toggle("lost", !!isLost);
    }
    if (!lost) return;
    lost.hidden = !isLost;
    root.dataset.connection = isLost ? "lost" : "ok";
    if (isLost) {
      lost.textContent = "CONNECTION TO THE SERVER LOST" +
        (lastOk ? " since " + clock(lastOk) + " (" + Math.round(quiet / 1000) + " s ago)" : "") +
        ": new alarms cannot reach this page. " + (failure || "") +
        " Check the network and that the review page server is running; this page keeps trying.";
    }
  }

  // ---- the clock ---------------------------------------------------------------------------
  // Chromium runs chained timers of a page hidden for 5 minutes at most once a minute ("intensive
  // wake-up throttling"; the "heard" line's once-a-second timer is one), and browsers throttle
  // hidden pages' timers in other ways too: a drowning alarm must not wait for any of it. A
  // dedicated worker's timers are not throttled, so the worker (alarm-worker.js) wakes this page;
  // its messages reach a hidden page at once. Where a worker cannot start (no Worker in this
  // browser, or its script fails to load) the page's own timers keep time, as before: exact in
  // view, at the browser's mercy in a background tab.
  const wakers = {}; // name -> function the clock calls
  const pageTimers = {}; // name -> page timer, while the page keeps its own time
  let clockWorker = null;

  function later(name, fn, ms) {
    wakers[name] = fn;
    if (clockWorker) { clockWorker.postMessage({ name: name, ms: ms }); return; }
    window.clearTimeout(pageTimers[name]);
    pageTimers[name] = window.setTimeout(function () { delete pageTimers[name]; fn(); }, ms);
  }

  function pageClock(why) {
    if (clockWorker) { try { clockWorker.terminate(); } catch (err) { /* gone already */ } }
    clockWorker = null;
    root.dataset.clock = "page";
    root.dataset.clockWhy = why;
    // What the worker was asked to wake, the page wakes now (its answer can no longer come).
    for (const name of Object.keys(wakers)) later(name, wakers[name], 0);
  }

  function startClock(url) {
    if (!url || typeof window.Worker !== "function") { pageClock("no worker in this browser"); return; }
    try {
      clockWorker = new window.Worker(url);
    } catch (err) {
      pageClock("the worker could not start: " + (err && err.message ? err.message : err));
      return;
    }
    root.dataset.clock = "worker";
    clockWorker.onmessage = function (e) { const fn = wakers[e.data]; if (fn) fn(); };
    clockWorker.onerror = function (e) {
      if (e && e.preventDefault) e.preventDefault();
      pageClock("the worker failed: " + (e && e.message ? e.message : "its script did not load"));
    };
  }

  // One poll at a time: an answer read before an acknowledgement must not land after a newer one.
  let inFlight = false;
  let again = false;

  async function poll() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    const url = stateUrl + (since === null ? "" : "?since=" + encodeURIComponent(since));
    try {
      const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (r.status === 401) throw new Error("You are logged out: log in again to hear alarms.");
      if (!r.ok) throw new Error("The server answered " + r.status + ".");
      handle(await r.json());
      lastOk = Date.now();
      failure = null;
    } catch (err) {
      failure = err && err.message && err.message.indexOf("logged out") >= 0 ? err.message : "Last error: " + (err && err.message ? err.message : err) + ".";
    } finally {
      inFlight = false;
      showConn();
      later("poll", poll, again ? 0 : POLL_MS);
      again = false;
    }
  }
  poll.now = function () { later("poll", poll, 0); };

  // The "heard N s ago" line and the lost connection, once a second even while a poll hangs.
  function tick() {
    showConn();
    later("conn", tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = $("alarm");
    if (!root) return; // the login page: nobody to alarm yet
    stateUrl = root.dataset.stateUrl;
    audio();
    const button = $("alarm-arm");
    if (button) button.addEventListener("click", arm);
    // Any click or key on the page is the gesture browsers ask for before sound may play.
    document.addEventListener("pointerdown", arm, true);
    document.addEventListener("keydown", arm, true);
    showSound();
    // A context that stays suspended after a moment is reported even if no statechange comes.
    window.setTimeout(showSound, 300);
    startClock(root.dataset.clockUrl);
    later("conn", tick, 1000);
    poll();
  });
})();
