// gridgov citizens' pages: what every page shares — texts from the server, the API, this
// browser's device id and reports, the proof of work, and the map's coordinate systems.
// Text from the server is always put on the page as text, never as HTML.

export const S = JSON.parse(document.getElementById("p-strings").textContent);
export const MAP = JSON.parse(document.getElementById("p-map").textContent);
const API = document.body.dataset.api;

export function fmt(text, ...values) {
  let i = 0;
  return text.replace(/%s/g, () => String(values[i++]));
}

export function deviceId() {
  // A random id for this browser: the door's limits count per device.
  let id = localStorage.getItem("gg-device");
  if (!id || !/^[A-Za-z0-9-]{16,64}$/.test(id)) {
    id = crypto.randomUUID ? crypto.randomUUID() : randomHex(32);
    localStorage.setItem("gg-device", id);
  }
  return id;
}

function randomHex(n) {
  const bytes = new Uint8Array(n / 2);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : randomHex(32);
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(status === 429 ? fmt(S.too_many, Math.max(1, Math.ceil((retryAfter || 60) / 60))) : message(body));
    this.status = status;
    this.body = body;
  }
}

function message(body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d.loc ? d.loc[d.loc.length - 1] + ": " : "") + d.msg).join("; ");
  }
  return typeof detail === "string" ? detail : "";
}

// One request to the citizens' API; JSON in and out, or a FormData body.
export async function api(path, { method = "GET", body = null, timeout = 30000 } = {}) {
  const headers = { "X-Device-Id": deviceId() };
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeout);
  let r;
  try {
    r = await fetch(API + path, { method, headers, body: payload, signal: ctrl.signal, credentials: "omit" });
  } catch (e) {
    throw new ApiError(0, { detail: S.offline });
  } finally {
    clearTimeout(timer);
  }
  const type = r.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, data, Number(r.headers.get("Retry-After")));
  return data;
}

// ---------------------------------------------------------------- this browser's reports

export function myReports() {
  try {
    const list = JSON.parse(localStorage.getItem("gg-reports") || "[]");
    return Array.isArray(list) ? list : [];
  } catch (e) {
    return [];
  }
}

export function remember(code, secret) {
  const list = myReports().filter((r) => r.code !== code);
  list.unshift({ code, secret, at: new Date().toISOString() });
  localStorage.setItem("gg-reports", JSON.stringify(list.slice(0, 50)));
}

// ---------------------------------------------------------------- proof of work (SHA-256)

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Uint32Array(64);

// The first 32 bits of SHA-256 of an ASCII string (enough to count leading zero bits).
export function sha256First32(text) {
  const n = text.length;
  const blocks = ((n + 9 + 63) >> 6) << 4; // 32-bit words
  const words = new Uint32Array(blocks);
  for (let i = 0; i < n; i++) words[i >> 2] |= (text.charCodeAt(i) & 0xff) << (24 - (i & 3) * 8);
  words[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
  words[blocks - 1] = n * 8;
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let b = 0; b < blocks; b += 16) {
    for (let t = 0; t < 64; t++) {
      if (t < 16) W[t] = words[b + t];
      else {
        const x = W[t - 15], y = W[t - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) >>> 0;
      }
    }
    let a = h0, c1 = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & c1) ^ (a & c) ^ (c1 & c))) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = c1; c1 = a; a = (t1 + t2) >>> 0;
    }
    h0 = (h0 + a) >>> 0; h1 = (h1 + c1) >>> 0; h2 = (h2 + c) >>> 0; h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0; h5 = (h5 + f) >>> 0; h6 = (h6 + g) >>> 0; h7 = (h7 + h) >>> 0;
  }
  return h0;
}

// Find the counter the server's challenge asks for, a slice at a time so the page stays
// responsive (about 65,000 hashes at 16 bits).
export async function solve(token, bits) {
  const limit = bits >= 32 ? 0 : 2 ** (32 - bits);
  for (let counter = 0; ; counter++) {
    if (sha256First32(token + ":" + counter) < limit) return String(counter);
    if (counter % 5000 === 4999) await new Promise((r) => setTimeout(r, 0));
  }
}

// ---------------------------------------------------------------- GCJ-02 (maps of Amap, Tencent)

const A = 6378245.0, EE = 0.00669342162296594323;

function outside(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function dLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function dLon(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

export function wgsToGcj(lon, lat) {
  if (outside(lon, lat)) return [lon, lat];
  const rad = (lat / 180) * Math.PI;
  let magic = Math.sin(rad);
  magic = 1 - EE * magic * magic;
  const sq = Math.sqrt(magic);
  const la = (dLat(lon - 105, lat - 35) * 180) / (((A * (1 - EE)) / (magic * sq)) * Math.PI);
  const lo = (dLon(lon - 105, lat - 35) * 180) / ((A / sq) * Math.cos(rad) * Math.PI);
  return [lon + lo, lat + la];
}

// Positions are kept in the basemap's system (what a pin on it means) and sent with it.
export function toMapCrs(lon, lat) {
  return MAP.crs === "gcj02" ? wgsToGcj(lon, lat) : [lon, lat];
}

// Back to WGS-84 (one step of the inverse: within a few metres, enough to pick map tiles).
export function fromMapCrs(lon, lat) {
  if (MAP.crs !== "gcj02") return [lon, lat];
  const [glon, glat] = wgsToGcj(lon, lat);
  return [lon - (glon - lon), lat - (glat - lat)];
}

export function baseMap(el, options = {}) {
  const L = window.L;
  const [lon, lat, zoom] = MAP.centre;
  const map = L.map(el, { zoomControl: true, maxZoom: 18, ...options });
  if (MAP.tiles) L.tileLayer(MAP.tiles, { attribution: MAP.attribution || "", maxZoom: 18 }).addTo(map);
  else map.attributionControl.setPrefix(false);
  map.setView(toMapCrs(lon, lat).reverse(), zoom);
  return map;
}
