// Lakeshore Watch review page: live list updates, bulk selection and keyboard shortcuts.
// Plain script, no framework and no CDN: the control room is offline.
"use strict";

(function () {
  const POLL_MS = 1500; // new alerts must show within 2 s
  const PUSH_WAIT_S = 20;

  // Where the store can push new alerts (PostgreSQL), a poll waits on the server until the next
  // one (a long poll) and the next poll starts at once; elsewhere the page asks every POLL_MS.
  const push = {
    on: false,
    arg: function () { return push.on ? "&wait=" + PUSH_WAIT_S : ""; },
    delay: function () { return push.on ? 0 : POLL_MS; },
  };

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function setUnreviewed(n) {
    for (const id of ["nav-unreviewed", "unreviewed-count"]) {
      const el = document.getElementById(id);
      if (el) {
        el.textContent = String(n);
        el.classList.toggle("zero", n === 0);
      }
    }
    if (document.documentElement.dataset.alarmTitle) return; // alarm.js owns the title while it alarms
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (n > 0) document.title = "(" + n + ") " + document.title;
  }

  // ---- the alert list ---------------------------------------------------------------------
  function initList(table) {
    const tbody = document.getElementById("alert-rows");
    const page = parseInt(table.dataset.page || "1", 10);
    let maxId = parseInt(table.dataset.maxId || "0", 10);
    let pendingOnOtherPage = 0;
    let cursor = -1;

    function rows() { return Array.from(tbody.querySelectorAll("tr.alert-row")); }

    tbody.addEventListener("click", function (e) {
      const t = e.target;
      if (t.closest("a, input, label, button")) return;
      const tr = t.closest("tr.alert-row");
      if (tr && tr.dataset.href) window.location.href = tr.dataset.href;
    });

    const bulkCount = document.getElementById("bulk-count");
    function updateBulk() {
      if (bulkCount) bulkCount.textContent = String(tbody.querySelectorAll("input[name=ids]:checked").length);
    }
    tbody.addEventListener("change", updateBulk);
    const all = document.getElementById("check-all");
    if (all) {
      all.addEventListener("change", function () {
        for (const box of tbody.querySelectorAll("input[name=ids]")) box.checked = all.checked;
        updateBulk();
      });
    }

    async function poll() {
      const url = table.dataset.pollUrl + (table.dataset.pollUrl.includes("?") ? "&" : "?") + "since=" + maxId + push.arg();
      push.on = false; // until an answer says otherwise: an error never turns into a busy loop
      try {
        const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (r.status === 401) { window.location.reload(); return; }
        if (!r.ok) return;
        const data = await r.json();
        push.on = data.push === true;
        setUnreviewed(data.unreviewed);
        if (data.new > 0) {
          maxId = Math.max(maxId, data.max_id);
          if (page === 1) {
            tbody.insertAdjacentHTML("afterbegin", data.rows);
            const empty = document.getElementById("empty-note");
            if (empty) empty.remove();
          } else {
            pendingOnOtherPage += data.new;
            document.getElementById("live-banner-count").textContent = String(pendingOnOtherPage);
            document.getElementById("live-banner").hidden = false;
          }
        }
      } catch (err) {
        // The server restarting or the network blinking: try again at the next tick.
      } finally {
        window.setTimeout(poll, push.delay());
      }
    }
    window.setTimeout(poll, POLL_MS);

    function moveCursor(step) {
      const list = rows();
      if (!list.length) return;
      cursor = Math.max(0, Math.min(list.length - 1, cursor + step));
      list.forEach(function (tr, i) { tr.classList.toggle("cursor", i === cursor); });
      list[cursor].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (e) {
      if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      const list = rows();
      if (e.key === "j") { moveCursor(1); e.preventDefault(); }
      else if (e.key === "k") { moveCursor(-1); e.preventDefault(); }
      else if ((e.key === "Enter" || e.key === "o") && list[cursor]) { window.location.href = list[cursor].dataset.href; }
      else if (e.key === "x" && list[cursor]) {
        const box = list[cursor].querySelector("input[name=ids]");
        if (box) { box.checked = !box.checked; updateBulk(); }
      }
    });
  }

  // ---- one alert --------------------------------------------------------------------------
  function initDetail() {
    const video = document.getElementById("clip");
    const confirmForm = document.getElementById("confirm-form");
    const dismissForm = document.getElementById("dismiss-form");
    const reason = document.getElementById("dismiss-reason");

    // "Open the next alert after a verdict": remembered in this browser, sent with each verdict.
    const advance = document.getElementById("advance");
    if (advance) {
      const sync = function () {
        for (const f of document.querySelectorAll(".advance-field")) f.value = advance.checked ? "1" : "0";
      };
      try { advance.checked = window.localStorage.getItem("lakeshore.advance") === "1"; } catch (err) { /* private mode */ }
      sync();
      advance.addEventListener("change", function () {
        try { window.localStorage.setItem("lakeshore.advance", advance.checked ? "1" : "0"); } catch (err) { /* ignore */ }
        sync();
      });
    }

    function go(id) {
      const a = document.getElementById(id);
      if (a) window.location.href = a.href;
    }

    window.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (typing(e.target)) {
        if (e.key === "Escape") e.target.blur();
        // Enter in the reason list sends the dismissal, as the button would.
        if (e.key === "Enter" && e.target === reason && reason.value) dismissForm.requestSubmit();
        return;
      }
      let handled = true;
      switch (e.key) {
        case "j": go("nav-older"); break;
        case "k": go("nav-newer"); break;
        case "c": if (confirmForm) confirmForm.requestSubmit(); else handled = false; break;
        case "d":
          if (!dismissForm) { handled = false; break; }
          if (reason.value) { dismissForm.requestSubmit(); break; }
          reason.focus();
          try { reason.showPicker(); } catch (err) { /* older browsers: focus is enough */ }
          break;
        case " ":
          if (!video) { handled = false; break; }
          if (video.paused) video.play(); else video.pause();
          break;
        case "ArrowLeft":
        case "ArrowRight":
          if (!video) { handled = false; break; }
          const step = (e.shiftKey ? 10 : 2) * (e.key === "ArrowLeft" ? -1 : 1);
          video.currentTime = Math.max(0, Math.min(video.duration || 0, video.currentTime + step));
          break;
        default: handled = false;
      }
      if (handled) { e.preventDefault(); e.stopPropagation(); }
    }, true);
  }

  // ---- every other page: keep the unreviewed count in the menu (and the tab title) current ----
  function initBadge(url) {
    async function tick() {
      try {
        const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (r.ok) setUnreviewed((await r.json()).unreviewed);
      } catch (err) {
        // try again at the next tick
      } finally {
        window.setTimeout(tick, 3000);
      }
    }
    window.setTimeout(tick, 3000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const badge = document.getElementById("nav-unreviewed");
    if (badge) badge.classList.toggle("zero", badge.textContent.trim() === "0");
    const table = document.getElementById("alert-table");
    if (table) initList(table);
    else if (document.body.dataset.badgeUrl) initBadge(document.body.dataset.badgeUrl);
    if (document.getElementById("confirm-form") || document.getElementById("clip")) initDetail();
  });
})();
