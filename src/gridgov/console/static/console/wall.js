// The leader wall: figures in the caller's scope, refreshed every 30 s without flicker (the
// charts update in place and the old figures stay until new ones arrive). Designed at
// 1920 × 1080 and scaled whole to the screen. It shows counts, categories and regions only.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall || !window.echarts || !window.L) return;
  var E = window.echarts;
  var L = window.L;
  var labels = wall.dataset;

  function fit() {
    var s = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    var left = (window.innerWidth - 1920 * s) / 2;
    var top = (window.innerHeight - 1080 * s) / 2;
    wall.style.transform = "translate(" + left + "px," + top + "px) scale(" + s + ")";
  }
  fit();
  window.addEventListener("resize", fit);

  function clock() {
    var lang = document.documentElement.lang || "zh-CN";
    document.getElementById("w-clock").textContent = new Date().toLocaleString(lang, {
      timeZone: wall.dataset.tz || undefined,  // the platform's, whatever the display's is
      year: "numeric", month: "2-digit", day: "2-digit", weekday: "long",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    });
  }
  clock();
  setInterval(clock, 1000);

  var text = { color: "#bfdbfe", fontSize: 16 };
  var axis = { axisLine: { lineStyle: { color: "#334155" } }, axisLabel: text, splitLine: { lineStyle: { color: "#1e293b" } } };
  // No animation: a refresh changes figures in place, and a wall should not twitch.
  function chart(id) {
    var c = E.init(document.getElementById(id), null, { renderer: "canvas" });
    c.setOption({ animation: false, textStyle: text });
    return c;
  }
  var charts = {
    trend: chart("c-trend"),
    category: chart("c-category"),
    channel: chart("c-channel"),
    region: chart("c-region")
  };

  var map = L.map("w-map", { zoomControl: false, attributionControl: false, preferCanvas: true, maxZoom: 18 });
  map.setView([38.04, 114.51], 10);
  var cells = L.layerGroup().addTo(map);
  var heat = L.heatLayer ? L.heatLayer([], { radius: 25, blur: 20 }).addTo(map) : null;
  var fitted = false;

  function kpis(k) {
    Object.keys(k).forEach(function (key) {
      var el = document.getElementById("k-" + key);
      if (!el) return;
      var v = k[key];
      el.textContent = v === null ? "–" : (key.indexOf("rate") >= 0 ? v.toFixed(1) + "%" : v.toLocaleString("zh-CN"));
    });
  }

  function draw(d) {
    document.getElementById("w-scope").textContent = d.scope;
    kpis(d.kpi);
    charts.trend.setOption({
      grid: { left: 50, right: 16, top: 36, bottom: 28 },
      legend: { textStyle: text, top: 0 },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "category", data: d.trend.days.map(function (s) { return s.slice(5); }) }, axis),
      yAxis: Object.assign({ type: "value" }, axis),
      series: [
        { name: labels.labelReported, type: "line", smooth: true, data: d.trend.reported, areaStyle: { opacity: 0.15 } },
        { name: labels.labelClosed, type: "line", smooth: true, data: d.trend.closed }
      ]
    });
    charts.category.setOption({
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "70%"], data: d.by_category, label: text }]
    });
    charts.channel.setOption({
      grid: { left: 110, right: 30, top: 10, bottom: 20 },
      xAxis: Object.assign({ type: "value" }, axis),
      yAxis: Object.assign({ type: "category", data: d.by_channel.map(function (r) { return r.name; }) }, axis),
      series: [{ type: "bar", data: d.by_channel.map(function (r) { return r.value; }), itemStyle: { color: "#38bdf8" } }]
    });
    var regions = d.by_region.slice(0, 10);
    charts.region.setOption({
      grid: { left: 130, right: 50, top: 10, bottom: 20 },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "value", max: 100 }, axis),
      yAxis: Object.assign({ type: "category", inverse: true, data: regions.map(function (r) { return r.name; }) }, axis),
      series: [{ type: "bar", data: regions.map(function (r) { return r.on_time_rate === null ? 0 : r.on_time_rate; }),
        label: { show: true, position: "right", color: "#e0f2fe", formatter: "{c}%" }, itemStyle: { color: "#22c55e" } }]
    });
    drawMap(d.cells);
    ticker(d.urgent);
    document.getElementById("w-updated").textContent = d.at.slice(0, 19).replace("T", " ");
  }

  function drawMap(list) {
    cells.clearLayers();
    var pts = [];
    list.forEach(function (c) {
      pts.push([c[0], c[1], c[2]]);
      L.circleMarker([c[0], c[1]], { radius: Math.min(4 + Math.sqrt(c[2]), 18), color: "#f59e0b", weight: 1, fillOpacity: 0.6 }).addTo(cells);
    });
    if (heat) heat.setLatLngs(pts);
    if (!fitted && pts.length) {
      map.fitBounds(L.latLngBounds(pts.map(function (p) { return [p[0], p[1]]; })).pad(0.2), { maxZoom: 14 });
      fitted = true;
    }
  }

  function ticker(items) {
    var box = document.getElementById("w-urgent");
    var ul = box.querySelector("ul");
    var fresh = document.createElement("ul");
    function add(u) {
      var li = document.createElement("li");
      var tag = document.createElement("span"); tag.className = "tag"; tag.textContent = "【" + u.state + "】";
      var where = document.createElement("span"); where.className = "where"; where.textContent = "【" + u.region + "】";
      var what = document.createElement("span"); what.textContent = u.category;
      var at = document.createElement("span"); at.className = "at"; at.textContent = u.at;
      li.appendChild(tag); li.appendChild(where); li.appendChild(what); li.appendChild(at);
      fresh.appendChild(li);
    }
    items.forEach(add);
    box.replaceChild(fresh, ul);
    // Scroll only when the list is longer than its box; the copy makes the loop seamless.
    var scrolling = fresh.scrollHeight > box.clientHeight;
    if (scrolling) items.forEach(add);
    box.classList.toggle("scrolling", scrolling);
    box.style.setProperty("--scroll-seconds", Math.max(10, items.length * 3) + "s");
  }

  function load() {
    // Not a passive poll: a wall is watched, so it keeps its session (see ADR 0010).
    fetch(wall.dataset.url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) { draw(d); document.getElementById("w-stale").hidden = true; })
      .catch(function () { document.getElementById("w-stale").hidden = false; });
  }
  load();
  setInterval(load, (parseInt(wall.dataset.refresh, 10) || 30) * 1000);
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
})();
