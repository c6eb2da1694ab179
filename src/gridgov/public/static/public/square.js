// The square map (广场地图): public, accepted events counted per cell of each map tile by the
// server (nothing finer than about 100 m ever reaches the page); a tap on a dot at the finest
// level lists what is there: kind, progress, dates and the centre's public reply.
import { S, api, fmt, toMapCrs, fromMapCrs, baseMap } from "./common.js";

const L = window.L;
const $ = (id) => document.getElementById(id);
const map = baseMap($("square-map"));
// ?at=lon,lat,zoom opens the map there (a link a centre shares); WGS-84 like the data.
const at = (new URLSearchParams(location.search).get("at") || "").split(",").map(Number);
if (at.length === 3 && at.every(Number.isFinite)) {
  const [lon, lat] = toMapCrs(at[0], at[1]);
  map.setView([lat, lon], Math.max(3, Math.min(18, at[2])));
}
const layer = L.layerGroup().addTo(map);
const COLOURS = { accepted: "#d97706", handling: "#2563eb", done: "#16a34a" };
let generation = 0;

function query() {
  const q = new URLSearchParams();
  if ($("f-category").value) q.set("category", $("f-category").value);
  if ($("f-stage").value) q.set("stage", $("f-stage").value);
  const s = q.toString();
  return s ? "?" + s : "";
}

function tilesInView() {
  const z = Math.max(3, Math.min(18, map.getZoom()));
  const b = map.getBounds().pad(0.1);
  // the data's tiles are WGS-84; the basemap may be GCJ-02
  const [west, south] = fromMapCrs(b.getWest(), b.getSouth());
  const [east, north] = fromMapCrs(b.getEast(), b.getNorth());
  const n = 2 ** z;
  const x = (lon) => Math.floor(((lon + 180) / 360) * n);
  const y = (lat) => {
    const r = (lat * Math.PI) / 180;
    return Math.floor(((1 - Math.asinh(Math.tan(r)) / Math.PI) / 2) * n);
  };
  const tiles = [];
  for (let tx = Math.max(0, x(west)); tx <= Math.min(n - 1, x(east)); tx++) {
    for (let ty = Math.max(0, y(north)); ty <= Math.min(n - 1, y(south)); ty++) {
      tiles.push([z, tx, ty]);
    }
  }
  return tiles.slice(0, 64);
}

function main(stages) {
  return Object.entries(stages).sort((a, b) => b[1] - a[1])[0][0];
}

function marker(cell) {
  const [lon, lat] = toMapCrs(cell.lon, cell.lat);
  const size = Math.round(Math.min(44, 18 + Math.log2(cell.count) * 6));
  const dot = document.createElement("div");
  dot.className = "p-dot stage-" + main(cell.stages);
  dot.style.width = dot.style.height = dot.style.lineHeight = size + "px";
  dot.textContent = cell.count > 1 ? String(cell.count) : "";
  const m = L.marker([lat, lon], {
    icon: L.divIcon({ html: dot, className: "", iconSize: [size, size] }),
    title: fmt(S.events_here, cell.count),
    keyboard: true,
  });
  m.on("click", () => (map.getZoom() >= 17 ? showSpot(cell) : map.setView([lat, lon], Math.min(18, map.getZoom() + 2))));
  return m;
}

async function draw() {
  const mine = ++generation;
  const q = query();
  const answers = await Promise.all(
    tilesInView().map(([z, x, y]) => api(`square/tiles/${z}/${x}/${y}${q}`).catch(() => ({ cells: [] }))),
  );
  if (mine !== generation) return;
  layer.clearLayers();
  for (const a of answers) for (const cell of a.cells) layer.addLayer(marker(cell));
}

async function showSpot(cell) {
  const items = await api(`square/spot?lon=${cell.lon}&lat=${cell.lat}${query().replace("?", "&")}`);
  $("spot").hidden = false;
  $("spot-title").textContent = fmt(S.events_here, items.length);
  const ul = $("spot-list");
  ul.replaceChildren();
  for (const it of items) {
    const li = document.createElement("li");
    const head = document.createElement("strong");
    head.textContent = it.category + " · " + it.stage_label;
    const dates = document.createElement("div");
    dates.className = "p-hint";
    dates.textContent = S.reported_on + " " + it.reported_on + (it.closed_on ? " · " + S.closed_on + " " + it.closed_on : "");
    li.append(head, dates);
    if (it.reply) {
      const reply = document.createElement("p");
      reply.textContent = S.reply + "：" + it.reply;
      li.append(reply);
    }
    ul.append(li);
  }
  if (!items.length) ul.textContent = S.nothing_here;
}

async function loadCategories() {
  const all = await api("categories");
  for (const c of all.filter((c) => !c.parent && c.on_square)) $("f-category").add(new Option(c.name, c.code));
}

map.on("moveend", draw);
$("f-category").addEventListener("change", draw);
$("f-stage").addEventListener("change", draw);
loadCategories().catch(() => {});
draw();
