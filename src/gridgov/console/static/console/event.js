// The event page's small map: the point and its grid's boundary, drawn without a tile layer
// (no outside map service is reachable from a government intranet).
(function () {
  "use strict";
  var el = document.getElementById("event-map");
  if (!el || !window.L) return;
  fetch(el.dataset.url, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) {
      if (!d) return;
      var map = window.L.map(el, { attributionControl: false, zoomControl: true });
      var point = window.L.latLng(d.point[1], d.point[0]);
      var bounds = window.L.latLngBounds([point, point]);
      var layer = null;
      if (d.grid && d.grid.boundary) {
        layer = window.L.geoJSON(d.grid.boundary, { style: { color: "#1d4ed8", weight: 2, fillOpacity: 0.08 } });
        var label = document.createElement("span");
        label.textContent = d.grid.code + " " + d.grid.name;  // text, never HTML
        layer.bindTooltip(label);
        bounds = layer.getBounds().extend(point);
      }
      // The view first: Leaflet draws vector layers only on a map that has one.
      map.fitBounds(bounds.pad(0.2), { maxZoom: 18 });
      if (layer) layer.addTo(map);
      window.L.circleMarker(point, { radius: 7, color: "#b91c1c", fillOpacity: 0.9 }).addTo(map);
    });
})();
