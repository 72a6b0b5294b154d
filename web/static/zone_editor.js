// The zone editor: polygons in fractions of the frame, drawn over the camera's live picture, with
// the tracked objects that fall in each zone as you edit (the zone's anchor point in the polygon,
// as the monitor judges). Save sends every zone of the camera; the server validates the file as
// check-config does and answers with its errors.
(function () {
  "use strict";
  var root = document.getElementById("zone-editor");
  if (!root || !window.LiveDraw) { return; }
  var D = window.LiveDraw;
  var zones = JSON.parse(root.dataset.zones || "[]");
  var base = root.dataset.base;
  var selected = zones.length ? 0 : -1;
  var tracks = [];
  var drag = null;
  var img = document.getElementById("editor-img");
  var canvas = document.getElementById("editor-canvas");
  var list = document.getElementById("editor-zones");
  var nameIn = document.getElementById("zone-name");
  var kindIn = document.getElementById("zone-kind");
  var result = document.getElementById("editor-result");
  var errors = document.getElementById("editor-errors");
  var HIT_PX = 10;

  function current() { return selected >= 0 ? zones[selected] : null; }

  function render() {
    var c = D.fitCanvas(canvas);
    c.ctx.clearRect(0, 0, c.w, c.h);
    D.drawZones(c, zones, current());
    D.drawTracks(c, tracks);
    var z = current();
    if (z) {
      z.points.forEach(function (p, i) {
        c.ctx.fillStyle = i === z.points.length - 1 ? "#ffffff" : D.zoneColour(z.kind);
        c.ctx.fillRect(p[0] * c.w - 4 * c.dpr, p[1] * c.h - 4 * c.dpr, 8 * c.dpr, 8 * c.dpr);
      });
    }
    list.innerHTML = "";
    zones.forEach(function (z, i) {
      var li = document.createElement("li");
      li.className = i === selected ? "selected" : "";
      li.dataset.index = String(i);
      var inside = tracks.filter(function (t) { return z.points.length >= 3 && D.inside(D.anchorOf(t, z.anchor), z.points); });
      li.textContent = z.name + " (" + z.kind + ") · " + z.points.length + " corners · " +
        (inside.length ? "in it now: " + inside.map(function (t) { return t.category + " #" + t.id; }).join(", ") : "nobody in it");
      li.addEventListener("click", function () { selected = i; syncFields(); render(); });
      list.appendChild(li);
    });
  }

  function syncFields() {
    var z = current();
    nameIn.value = z ? z.name : "";
    kindIn.value = z ? z.kind : kindIn.value;
  }

  function pos(ev) {
    var r = canvas.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height))];
  }

  function nearestCorner(z, p) {
    var r = canvas.getBoundingClientRect(), best = -1, bestD = HIT_PX;
    z.points.forEach(function (q, i) {
      var d = Math.hypot((q[0] - p[0]) * r.width, (q[1] - p[1]) * r.height);
      if (d <= bestD) { best = i; bestD = d; }
    });
    return best;
  }

  // Where a new corner goes: after the last one while the zone has fewer than 3, else into the
  // edge nearest the click, so a corner added later lands between the two it belongs to.
  function insertAt(z, p) {
    if (z.points.length < 3) { return z.points.length; }
    var best = 0, bestD = Infinity;
    for (var i = 0; i < z.points.length; i++) {
      var a = z.points[i], b = z.points[(i + 1) % z.points.length];
      var dx = b[0] - a[0], dy = b[1] - a[1];
      var t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy || 1)));
      var d = Math.hypot(a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
      if (d < bestD) { bestD = d; best = i + 1; }
    }
    return best;
  }

  canvas.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) { return; }
    var z = current();
    if (!z) { newZone(); z = current(); }
    var p = pos(ev), i = nearestCorner(z, p);
    if (i < 0) {
      i = insertAt(z, p);
      z.points.splice(i, 0, p);
    }
    drag = { index: i };
    render();
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) { return; }
    current().points[drag.index] = pos(ev);
    render();
  });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("contextmenu", function (ev) {
    ev.preventDefault();
    var z = current();
    if (!z) { return; }
    var i = nearestCorner(z, pos(ev));
    if (i >= 0) { z.points.splice(i, 1); render(); }
  });

  function newZone() {
    var n = 1;
    var names = zones.map(function (z) { return z.name; });
    while (names.indexOf("zone_" + n) >= 0) { n += 1; }
    zones.push({ name: "zone_" + n, kind: kindIn.value || "water", anchor: "bottom_center", points: [] });
    selected = zones.length - 1;
    syncFields();
    render();
    nameIn.focus();
  }
  document.getElementById("zone-new").addEventListener("click", newZone);
  document.getElementById("zone-delete").addEventListener("click", function () {
    if (selected < 0) { return; }
    zones.splice(selected, 1);
    selected = zones.length ? 0 : -1;
    syncFields();
    render();
  });
  document.getElementById("point-delete").addEventListener("click", function () {
    var z = current();
    if (z && z.points.length) { z.points.pop(); render(); }
  });
  nameIn.addEventListener("input", function () { var z = current(); if (z) { z.name = nameIn.value; render(); } });
  kindIn.addEventListener("change", function () { var z = current(); if (z) { z.kind = kindIn.value; render(); } });

  document.getElementById("zones-save").addEventListener("click", function () {
    result.textContent = "Saving…";
    result.className = "";
    errors.textContent = "";
    var token = document.querySelector('meta[name="csrf-token"]').content;
    var body = { base: base, zones: zones.map(function (z) { return { name: z.name, kind: z.kind, coordinates: z.points }; }) };
    fetch(root.dataset.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; },
                           function () { return { ok: false, data: { errors: ["The server answered " + r.status + "."] } }; });
    }).then(function (res) {
      if (res.ok) {
        base = res.data.base;
        result.textContent = "Saved. The running monitor takes the new zones over within a few seconds.";
        result.className = "editor-ok";
      } else {
        result.textContent = "Not saved: the file is unchanged.";
        result.className = "error-text";
        errors.textContent = (res.data.errors || ["unknown error"]).join("\n");
      }
    }).catch(function (e) {
      result.textContent = "Not saved: no answer from the server (" + e.message + ").";
      result.className = "error-text";
    });
  });

  // The live picture and the tracks, once a second (this also asks the monitor for live frames).
  var n = 0;
  function poll() {
    n += 1;
    var next = new Image();
    next.onload = function () {
      img.src = next.src;
      document.getElementById("editor-live").textContent = "live picture " + new Date().toLocaleTimeString();
    };
    next.src = root.dataset.frameUrl + "?n=" + n;
    fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        var s = data && data.cameras && data.cameras[root.dataset.camera];
        tracks = s ? s.tracks : [];
        if (!drag) { render(); }
      }).catch(function () { /* the picture's caption says when it was last seen */ });
  }
  img.addEventListener("load", function () {
    document.getElementById("editor-frame").style.aspectRatio = img.naturalWidth + " / " + img.naturalHeight;
    render();
  });
  window.addEventListener("resize", render);
  syncFields();
  render();
  poll();
  setInterval(poll, 1000);
})();
