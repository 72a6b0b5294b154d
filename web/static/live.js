// The live wall: polls each shown camera's picture and one JSON of every camera's tracks and state,
// and draws zones and tracked boxes on a canvas over the picture. Zones and boxes are fractions of
// the frame, so they fit the picture at any size. Shared drawing helpers live on window.LiveDraw
// (the zone editor uses them too).
(function () {
  "use strict";
  var PERIOD_MS = 500;
  var KIND_COLOURS = { water: "#4ea3e6", ice: "#a9d8ff", shore: "#f2b84b", restricted: "#e5484d", habitat: "#3fb27f" };
  var CATEGORY_COLOURS = { person: "#ff5a5f", vehicle: "#f2a93b", boat: "#b38cff", fishing_gear: "#3fdcc8" };

  function zoneColour(kind) { return KIND_COLOURS[kind] || "#c9d6e5"; }

  function fitCanvas(canvas) {
    var r = canvas.getBoundingClientRect();
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    return { ctx: ctx, w: w, h: h, dpr: dpr };
  }

  function drawZones(c, zones, highlight) {
    zones.forEach(function (z) {
      if (!z.points || z.points.length < 2) { return; }
      var col = zoneColour(z.kind);
      c.ctx.beginPath();
      z.points.forEach(function (p, i) {
        var x = p[0] * c.w, y = p[1] * c.h;
        if (i === 0) { c.ctx.moveTo(x, y); } else { c.ctx.lineTo(x, y); }
      });
      c.ctx.closePath();
      c.ctx.globalAlpha = z === highlight ? 0.35 : 0.18;
      c.ctx.fillStyle = col;
      c.ctx.fill();
      c.ctx.globalAlpha = 1;
      c.ctx.lineWidth = 2 * c.dpr;
      c.ctx.strokeStyle = col;
      c.ctx.stroke();
      var top = z.points.reduce(function (a, p) { return p[1] < a[1] ? p : a; }, z.points[0]);
      c.ctx.font = Math.round(12 * c.dpr) + "px sans-serif";
      c.ctx.fillStyle = col;
      c.ctx.fillText(z.name, top[0] * c.w + 4 * c.dpr, top[1] * c.h + 14 * c.dpr);
    });
  }

  function drawTracks(c, tracks) {
    (tracks || []).forEach(function (t) {
      var b = t.box, col = CATEGORY_COLOURS[t.category] || "#ffffff";
      c.ctx.lineWidth = 2 * c.dpr;
      c.ctx.strokeStyle = col;
      c.ctx.strokeRect(b[0] * c.w, b[1] * c.h, (b[2] - b[0]) * c.w, (b[3] - b[1]) * c.h);
      c.ctx.fillStyle = col;
      c.ctx.beginPath();
      c.ctx.arc(t.anchor[0] * c.w, t.anchor[1] * c.h, 3 * c.dpr, 0, 2 * Math.PI);
      c.ctx.fill();
      c.ctx.font = Math.round(11 * c.dpr) + "px sans-serif";
      var label = t.category + " #" + t.id + (t.zones && t.zones.length ? " · " + t.zones.join(", ") : "");
      c.ctx.fillText(label, b[0] * c.w, Math.max(10 * c.dpr, b[1] * c.h - 3 * c.dpr));
    });
  }

  // Point in polygon (ray casting); points on the edge may fall either way, as they rarely matter here.
  function inside(pt, poly) {
    var x = pt[0], y = pt[1], hit = false;
    for (var i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      var xi = poly[i][0], yi = poly[i][1], xj = poly[j][0], yj = poly[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { hit = !hit; }
    }
    return hit;
  }

  function anchorOf(track, anchor) {
    var b = track.box;
    return anchor === "center" ? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] : [(b[0] + b[2]) / 2, b[3]];
  }

  window.LiveDraw = { fitCanvas: fitCanvas, drawZones: drawZones, drawTracks: drawTracks, inside: inside,
                      anchorOf: anchorOf, zoneColour: zoneColour };

  var wall = document.getElementById("live-wall");
  if (!wall) { return; }
  var tiles = Array.prototype.slice.call(wall.querySelectorAll(".live-tile"));
  var ids = tiles.map(function (t) { return t.dataset.camera; });
  var state = {};
  var heard = document.getElementById("live-heard");
  var n = 0;

  function redraw(tile) {
    var canvas = tile.querySelector("canvas");
    var c = fitCanvas(canvas);
    c.ctx.clearRect(0, 0, c.w, c.h);
    drawZones(c, JSON.parse(tile.dataset.zones || "[]"), null);
    var s = state[tile.dataset.camera];
    if (s) { drawTracks(c, s.tracks); }
  }

  tiles.forEach(function (tile) {
    var frame = tile.querySelector(".live-frame");
    frame.style.aspectRatio = frame.dataset.aspect;  // set here: the page's CSP allows no inline style
    var img = tile.querySelector("img");
    img.addEventListener("load", function () {
      tile.classList.add("has-picture");
      tile.dataset.frames = String((parseInt(tile.dataset.frames || "0", 10) || 0) + 1);
      redraw(tile);
    });
    img.addEventListener("load", function () { delete img.dataset.retryAt; });
    img.addEventListener("error", function () {
      tile.classList.remove("has-picture");
      img.dataset.retryAt = String(Date.now() + 5000);
    });
  });

  // Times in the lake's time zone (the page's), whatever the officer's PC is set to.
  function clock(t) {
    try { return new Date(t).toLocaleTimeString([], { timeZone: wall.dataset.tz }); } catch (e) { return new Date(t).toLocaleTimeString(); }
  }

  function showState(tile, s) {
    var el = tile.querySelector(".live-state");
    el.textContent = s.state + (s.live || !tile.classList.contains("has-picture") ? "" : " · last frame");
    el.className = "state live-state state-" + s.state.replace(/[^a-z]+/g, "-");
    tile.classList.toggle("critical", !!s.critical);
    tile.classList.toggle("down", s.state === "down");
    tile.title = s.last_error ? "Last error: " + s.last_error : "";
    var age = tile.querySelector(".live-age");
    age.textContent = s.at ? " " + clock(s.at) : "";
  }

  function tick() {
    n += 1;
    tiles.forEach(function (tile) {
      // The picture is asked for only when the last one has arrived: a slow link never queues.
      var img = tile.querySelector("img");
      // No picture yet (the camera is down, or the monitor is not running): ask every 5 s, not twice a second.
      if (img.dataset.retryAt && Date.now() < Number(img.dataset.retryAt)) { return; }
      if (!img.dataset.busy) {
        img.dataset.busy = "1";
        var done = function () { delete img.dataset.busy; };
        img.addEventListener("load", done, { once: true });
        img.addEventListener("error", done, { once: true });
        img.src = tile.dataset.frameUrl + "?n=" + n;
      }
    });
    fetch(wall.dataset.stateUrl + "?cameras=" + encodeURIComponent(ids.join(",")),
          { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        state = data.cameras || {};
        tiles.forEach(function (tile) {
          var s = state[tile.dataset.camera];
          if (s) { showState(tile, s); redraw(tile); }
        });
        heard.textContent = "updated " + clock(Date.now());
        heard.classList.remove("error-text");
      })
      .catch(function (e) {
        heard.textContent = "no answer from the server (" + e.message + ") at " + clock(Date.now());
        heard.classList.add("error-text");
      });
  }
  tick();
  setInterval(tick, PERIOD_MS);
  window.addEventListener("resize", function () { tiles.forEach(redraw); });
})();
