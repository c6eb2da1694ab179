// The command map: events in the caller's scope, clustered and coloured by state, with a heat
// layer and, on demand, the grid boundaries of the part of the city in view. No basemap unless
// one is configured (an intranet reaches no map service). Every text from the server is put on
// the page as text, never as HTML.
(function () {
  "use strict";
  var el = document.getElementById("command-map");
  var L = window.L;
  if (!el || !L) return;

  var GROUPS = {
    reported: "intake", verifying: "intake",
    registered: "dispatch", returned: "dispatch",
    dispatched: "handling", in_progress: "handling", suspended: "handling",
    awaiting_check: "check",
    closed: "closed", archived: "closed",
    rejected: "void", merged: "void", cancelled: "void"
  };
  var COLOURS = {
    intake: "#64748b", dispatch: "#d97706", handling: "#2563eb", check: "#7c3aed",
    closed: "#16a34a", void: "#9ca3af", overdue: "#dc2626"
  };

  var map = L.map(el, { preferCanvas: true, zoomControl: true, maxZoom: 19 });
  var tiles = JSON.parse(document.getElementById("map-tiles").textContent || "{}");
  if (tiles.url) {
    L.tileLayer(tiles.url, { attribution: tiles.attribution || "", maxZoom: 18 }).addTo(map);
  } else {
    map.attributionControl.setPrefix(false);
  }
  map.setView([38.04, 114.51], 11);

  var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
  var heat = null;
  var grids = L.layerGroup();
  var count = document.getElementById("map-count");
  var eventUrl = el.dataset.eventUrl;

  function colour(e) {
    return e.overdue ? COLOURS.overdue : COLOURS[GROUPS[e.state] || "void"];
  }

  function popup(e) {
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = eventUrl.replace("CODE", encodeURIComponent(e.code));
    a.textContent = e.code;
    var title = document.createElement("div");
    title.textContent = e.title;
    var state = document.createElement("div");
    state.className = "muted";
    state.textContent = e.state_label + (e.urgent ? " · " + el.dataset.labelUrgent : "");
    box.appendChild(a);
    box.appendChild(title);
    box.appendChild(state);
    return box;
  }

  function draw(data) {
    var markers = [];
    var points = [];
    data.events.forEach(function (e) {
      var m = L.circleMarker([e.lat, e.lon], {
        radius: e.urgent ? 8 : 6, color: "#fff", weight: 1, fillColor: colour(e), fillOpacity: 0.9
      });
      m.bindPopup(function () { return popup(e); });
      m.on("dblclick", function () { window.location.href = eventUrl.replace("CODE", encodeURIComponent(e.code)); });
      markers.push(m);
      points.push([e.lat, e.lon, 1]);
    });
    cluster.clearLayers();
    cluster.addLayers(markers);
    if (document.getElementById("layer-points").checked) map.addLayer(cluster);
    heat = L.heatLayer ? L.heatLayer(points, { radius: 22, blur: 18, maxZoom: 15 }) : null;
    if (heat && document.getElementById("layer-heat").checked) map.addLayer(heat);
    var label = data.shown < data.total ? el.dataset.labelSome : el.dataset.labelAll;
    count.textContent = label.replace("{shown}", data.shown).replace("{total}", data.total);
    if (markers.length) map.fitBounds(cluster.getBounds().pad(0.1), { maxZoom: 16 });
  }

  fetch(el.dataset.events, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { events: [], total: 0, shown: 0 }; })
    .then(draw);

  function loadGrids() {
    if (!document.getElementById("layer-grids").checked) return;
    var b = map.getBounds();
    var box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); });
    fetch(el.dataset.grids + "?bbox=" + box.join(","), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { grids: [] }; })
      .then(function (d) {
        grids.clearLayers();
        d.grids.forEach(function (g) {
          var layer = L.geoJSON(g.boundary, {
            style: { color: g.kind === "dedicated" ? "#be185d" : "#1d4ed8", weight: 1, fillOpacity: 0.04 }
          });
          var label = document.createElement("span");
          label.textContent = g.code + " " + g.name;
          layer.bindTooltip(label, { sticky: true });
          grids.addLayer(layer);
        });
        map.addLayer(grids);
      });
  }

  document.getElementById("layer-grids").addEventListener("change", function (ev) {
    if (ev.target.checked) loadGrids(); else map.removeLayer(grids);
  });
  document.getElementById("layer-heat").addEventListener("change", function (ev) {
    if (!heat) return;
    if (ev.target.checked) map.addLayer(heat); else map.removeLayer(heat);
  });
  document.getElementById("layer-points").addEventListener("change", function (ev) {
    if (ev.target.checked) map.addLayer(cluster); else map.removeLayer(cluster);
  });
  map.on("moveend", loadGrids);
})();
