// The patrol maps: a day's tracks, check-ins and checkpoints (fetched), or one patrol's (from
// the page's JSON). No basemap unless one is configured. Every text from the server is put on
// the page as text, never as HTML.
(function () {
  "use strict";
  var el = document.getElementById("patrol-map");
  var L = window.L;
  if (!el || !L) return;

  var COLOURS = ["#2563eb", "#7c3aed", "#0891b2", "#d97706", "#be185d", "#4d7c0f", "#1e40af", "#9333ea"];
  var map = L.map(el, { preferCanvas: true, maxZoom: 19 });
  var tilesEl = document.getElementById("map-tiles");
  var tiles = tilesEl ? JSON.parse(tilesEl.textContent || "{}") : {};
  if (tiles.url) {
    L.tileLayer(tiles.url, { attribution: tiles.attribution || "", maxZoom: 18 }).addTo(map);
  } else {
    map.attributionControl.setPrefix(false);
  }
  map.setView([38.04, 114.51], 11);

  function text(parts) {
    var box = document.createElement("div");
    parts.forEach(function (p, i) {
      var line = document.createElement(i === 0 && p.href ? "a" : "div");
      if (p.href) line.href = p.href;
      line.textContent = p.text;
      if (p.muted) line.className = "muted";
      box.appendChild(line);
    });
    return box;
  }

  function draw(data) {
    var group = L.featureGroup();
    (data.checkpoints || []).forEach(function (c) {
      var circle = L.circle([c.lat, c.lon], {
        radius: c.radius_m, color: "#6b7280", weight: 1, fillOpacity: 0.08
      });
      circle.bindTooltip(text([{ text: c.name }, { text: c.kind_label, muted: true }]));
      group.addLayer(circle);
    });
    (data.patrols || []).forEach(function (p, i) {
      var colour = COLOURS[i % COLOURS.length];
      var href = el.dataset.patrolUrl
        ? el.dataset.patrolUrl.replace("00000000-0000-0000-0000-000000000000", p.id) : "";
      if (p.track.length > 1) {
        var line = L.polyline(p.track, { color: colour, weight: 3, opacity: 0.8 });
        line.bindPopup(function () { return text([{ text: p.worker, href: href }, { text: p.grid_code, muted: true }]); });
        group.addLayer(line);
      } else if (p.track.length === 1) {
        group.addLayer(L.circleMarker(p.track[0], { radius: 4, color: colour }));
      }
      p.checkins.forEach(function (c) {
        var dot = L.circleMarker([c.lat, c.lon], {
          radius: 6, color: "#fff", weight: 1, fillOpacity: 0.95,
          fillColor: c.within ? "#16a34a" : "#dc2626"
        });
        var where = c.within ? el.dataset.labelWithin : el.dataset.labelOutside;
        dot.bindTooltip(text([
          { text: c.at + " " + c.name }, { text: p.worker + " · " + where + " (" + c.distance_m + " m)", muted: true }
        ]));
        group.addLayer(dot);
      });
    });
    group.addTo(map);
    if (group.getLayers().length) map.fitBounds(group.getBounds().pad(0.1), { maxZoom: 17 });
    var note = document.getElementById("patrol-map-note");
    if (note && data.truncated) note.textContent = el.dataset.labelTruncated;
  }

  // Grid outlines: the first unpatrolled grids (the day's map) or the grids walked (a patrol).
  function outline() {
    if (!el.dataset.grids || !el.dataset.gridsUrl) return;
    var unpatrolled = el.dataset.gridsKind === "unpatrolled";
    var style = unpatrolled
      ? { color: "#ea580c", weight: 1.5, dashArray: "4 4", fillOpacity: 0.06 }
      : { color: "#1d4ed8", weight: 1, fillOpacity: 0.04 };
    fetch(el.dataset.gridsUrl + "?codes=" + encodeURIComponent(el.dataset.grids), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { grids: [] }; })
      .then(function (d) {
        d.grids.forEach(function (g) {
          var layer = L.geoJSON(g.boundary, { style: style, interactive: true });
          layer.bindTooltip(text([{ text: g.code + " " + g.name }]), { sticky: true });
          layer.addTo(map);
          layer.bringToBack();
        });
      });
  }

  outline();
  var inline = document.getElementById("patrol-data");
  if (inline) {
    draw(JSON.parse(inline.textContent || "{}"));
  } else if (el.dataset.url) {
    fetch(el.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { patrols: [], checkpoints: [] }; })
      .then(draw);
  }
})();
