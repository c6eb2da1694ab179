// The report page: kind, words or voice, photos, the place (position or a pin), contact or
// anonymous; then photos and voice go up, a challenge is solved and the report is sent once
// (a retry reuses its key, so a lost answer never makes a second report).
import { S, MAP, api, fmt, newKey, remember, solve, toMapCrs, baseMap } from "./common.js";
import { startRecording } from "./voice.js";

const $ = (id) => document.getElementById(id);
const form = $("report");
const state = { photos: [], voice: null, place: null, key: newKey(), recorder: null, uploads: {} };
let categories = [];

async function loadCategories() {
  categories = await api("categories");
  for (const c of categories.filter((c) => !c.parent)) $("top").add(new Option(c.name, c.code));
}

$("top").addEventListener("change", () => {
  const sel = $("category");
  sel.length = 0;
  sel.add(new Option("—", ""));
  const top = $("top").value;
  for (const c of categories.filter((c) => c.parent === top)) sel.add(new Option(c.name, c.code));
  sel.disabled = !top;
});

// ---------------------------------------------------------------- place

const map = baseMap($("pick-map"));
let pin = null;

function setPlace(lon, lat, crs, note) {
  state.place = { lon, lat, crs };
  const ll = [lat, lon];
  if (!pin) {
    pin = window.L.marker(ll, { draggable: true }).addTo(map);
    pin.on("dragend", () => {
      const p = pin.getLatLng();
      setPlace(p.lng, p.lat, MAP.crs, S.pin_set);
    });
  } else pin.setLatLng(ll);
  map.setView(ll, Math.max(map.getZoom(), 16));
  $("place-status").textContent = note;
}

map.on("click", (e) => setPlace(e.latlng.lng, e.latlng.lat, MAP.crs, S.pin_set));

$("locate").addEventListener("click", () => {
  if (!navigator.geolocation) {
    $("place-status").textContent = S.no_position;
    return;
  }
  $("place-status").textContent = S.locating;
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      // The browser gives WGS-84; the pin lives on the basemap, in its system.
      const [lon, lat] = toMapCrs(pos.coords.longitude, pos.coords.latitude);
      setPlace(lon, lat, MAP.crs, fmt(S.located, Math.round(pos.coords.accuracy || 0)));
    },
    () => ($("place-status").textContent = S.no_position),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
});

// ---------------------------------------------------------------- photos and voice

$("photos").addEventListener("change", async (ev) => {
  for (const file of Array.from(ev.target.files).slice(0, 9 - state.photos.length)) {
    const blob = window.GGPhotos ? await window.GGPhotos.shrink(file) : file;
    state.photos.push({ blob, key: newKey(), url: URL.createObjectURL(blob) });
  }
  ev.target.value = "";
  drawPhotos();
});

function drawPhotos() {
  const list = $("photo-list");
  list.replaceChildren();
  state.photos.forEach((p, i) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = p.url;
    img.alt = "";
    const rm = document.createElement("button");
    rm.type = "button";
    rm.textContent = S.remove;
    rm.addEventListener("click", () => {
      URL.revokeObjectURL(p.url);
      state.photos.splice(i, 1);
      drawPhotos();
    });
    li.append(img, rm);
    list.append(li);
  });
}

$("voice").addEventListener("click", async () => {
  if (state.recorder) {
    const rec = state.recorder;
    state.recorder = null;
    const seconds = rec.seconds;
    state.voice = { blob: await rec.stop(), key: newKey() };
    $("voice-status").textContent = fmt(S.recorded, Math.round(seconds));
    return;
  }
  try {
    const rec = await startRecording(60);
    state.recorder = rec;
    rec.onTick = (s) => ($("voice-status").textContent = fmt(S.recording, s));
    $("voice-status").textContent = fmt(S.recording, 0);
    rec.ended.then((blob) => {
      if (state.recorder === rec) {
        state.recorder = null;
        state.voice = { blob, key: newKey() };
        $("voice-status").textContent = fmt(S.recorded, Math.round(rec.seconds));
      }
    }, () => {});
  } catch (e) {
    $("voice-status").textContent = S.no_mic;
  }
});

$("anonymous").addEventListener("change", () => {
  $("contact").hidden = $("anonymous").checked;
});

// ---------------------------------------------------------------- sending

async function upload(item, name) {
  if (state.uploads[item.key]) return state.uploads[item.key];
  const data = new FormData();
  data.append("file", item.blob, name);
  data.append("client_id", item.key);
  const answer = await api("uploads", { method: "POST", body: data, timeout: 120000 });
  state.uploads[item.key] = answer.id;
  return answer.id;
}

function problem() {
  if (!$("description").value.trim() && !state.voice) return S.need_words;
  if (!state.place) return S.need_place;
  return "";
}

let challengeReady = null;

function prepareChallenge() {
  // Solved while the citizen fills the form; a new one for each report.
  challengeReady = api("challenge", { method: "POST" }).then(async (c) => ({
    challenge: c.token,
    answer: await solve(c.token, c.bits),
  }));
  challengeReady.catch(() => (challengeReady = null));
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = $("form-error");
  error.textContent = problem();
  if (error.textContent) return;
  const button = $("submit");
  button.disabled = true;
  try {
    const photos = [];
    for (let i = 0; i < state.photos.length; i++) {
      error.textContent = fmt(S.uploading, i + 1, state.photos.length);
      photos.push(await upload(state.photos[i], "photo.jpg"));
    }
    const voice = state.voice ? await upload(state.voice, "voice.wav") : null;
    error.textContent = S.preparing;
    if (!challengeReady) prepareChallenge();
    const proof = await challengeReady;
    error.textContent = S.sending;
    const anonymous = $("anonymous").checked;
    const receipt = await api("reports", {
      method: "POST",
      body: {
        client_id: state.key,
        category: $("category").value,
        description: $("description").value.trim(),
        voice,
        photos,
        lon: state.place.lon,
        lat: state.place.lat,
        crs: state.place.crs,
        address: $("address").value.trim(),
        name: anonymous ? "" : $("name").value.trim(),
        phone: anonymous ? "" : $("phone").value.trim(),
        anonymous,
        ...proof,
      },
    });
    remember(receipt.code, receipt.reporter_secret);
    error.textContent = "";
    showReceipt(receipt);
  } catch (e) {
    error.textContent = fmt(S.failed, e.message || "");
    // a refused report may have used its challenge: solve a new one (a lost answer or a
    // rate limit keeps it, and the retry replays under the same key)
    if (e.status && e.status !== 429) prepareChallenge();
    button.disabled = false;
  }
});

function showReceipt(receipt) {
  form.hidden = true;
  $("receipt").hidden = false;
  $("receipt-code").textContent = receipt.code;
  $("receipt-centre").textContent = receipt.receiving_centre;
  $("receipt-track").href += "?code=" + encodeURIComponent(receipt.code);
  window.scrollTo(0, 0);
}

loadCategories().catch((e) => ($("form-error").textContent = e.message));
prepareChallenge();
