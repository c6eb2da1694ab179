// The grid pages' map: the listed grids (or the one grid) drawn from the grid service, no
// basemap. Names are put on the map as text, never HTML.
(function () {
  "use strict";
  var el = document.getElementById("grids-map") || document.getElementById("grid-map");
  var L = window.L;
  if (!el || !L || !el.dataset.codes) return;
  var wanted = el.dataset.codes.split(",");
  var map = L.map(el, { attributionControl: false, preferCanvas: true, maxZoom: 19 });
  map.setView([38.04, 114.51], 11);
  fetch(el.dataset.url + "?codes=" + encodeURIComponent(el.dataset.codes), { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { grids: [] }; })
    .then(function (d) {
      var group = L.featureGroup();
      d.grids.forEach(function (g) {
        var layer = L.geoJSON(g.boundary, { style: { color: "#1d4ed8", weight: 2, fillOpacity: 0.08 } });
        var label = document.createElement("span");
        label.textContent = g.code + " " + g.name;
        layer.bindTooltip(label, { sticky: true });
        layer.on("click", function () {
          if (wanted.length > 1) window.location.href = window.location.pathname + encodeURIComponent(g.code) + "/";
        });
        group.addLayer(layer);
      });
      if (group.getLayers().length) {
        map.fitBounds(group.getBounds().pad(0.1), { maxZoom: 17 });
        group.addTo(map);
      }
    });
})();
