// gridgov grid worker app. Everything the worker does is first written to the phone (store.js)
// and then sent, in order, when there is signal: reports and actions go through the server's
// outbox door with their own idempotency keys, photos before the item that uses them. Nothing
// is removed from the phone until the server has acknowledged it; what the server refuses stays
// visible with the reason.
"use strict";
(function () {
  const body = document.body;
  const API = body.dataset.api;
  const S = JSON.parse(document.getElementById("m-strings").textContent);
  const TILES = JSON.parse(document.getElementById("m-tiles").textContent);
  const Store = window.GGStore;
  const Photos = window.GGPhotos;
  const LANG = document.documentElement.lang || "zh-hans";
  const RETRY_MS = 5000;
  const TIMEOUT_MS = 30000;
  const UPLOAD_TIMEOUT_MS = 120000;
  const POINTS_EVERY_MS = 60000;
  const FRESH_FIX_MS = 5 * 60000; // a report's position is at most this old
  const POINTS_PER_BATCH = 30;
  const SCREENS = ["signin", "home", "tasks", "task", "report", "patrol", "me"];
  const PHOTO_ACTIONS = ["visit", "report_result", "verify_fail", "refute"];

  const state = {
    token: null, me: null, bundle: null, history: null, checkpoints: [], outbox: [],
    lastSync: null, position: null, flushing: false, patrol: null, watch: null, wakeLock: null,
    reportPhotos: [], tab: "sign",
  };

  class Offline extends Error {}
  class Later extends Error {}

  const $ = (id) => document.getElementById(id);
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(LANG.startsWith("zh") ? "zh-CN" : "en-GB", {
      timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false,
    });
  }

  // ------------------------------------------------------------------------- the network

  async function call(method, path, payload, form) {
    if (!navigator.onLine) throw new Offline();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), form ? UPLOAD_TIMEOUT_MS : TIMEOUT_MS);
    const headers = {};
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let data = form;
    if (!form && payload !== undefined) {
      headers["Content-Type"] = "application/json";
      data = JSON.stringify(payload);
    }
    let response;
    let answer = null;
    try {
      response = await fetch(API + path, { method, headers, body: data, credentials: "omit", signal: abort.signal });
      // Only the platform's JSON counts: a hotel or village Wi-Fi login page answers 200 too.
      if (!(response.headers.get("Content-Type") || "").startsWith("application/json")) throw new Offline();
      answer = await response.json();
    } catch (e) {
      throw new Offline(); // no signal, a timeout, or not our server: try again later
    } finally {
      clearTimeout(timer);
    }
    return { status: response.status, ok: response.ok, data: answer };
  }

  function online() {
    return navigator.onLine && !!state.token;
  }

  // ------------------------------------------------------------------------- position

  function locate() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(
        (p) => resolve(fix(p)),
        () => resolve(null),
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 },
      );
    });
  }

  function fix(p) {
    state.position = {
      lon: p.coords.longitude, lat: p.coords.latitude,
      accuracy_m: Math.round(p.coords.accuracy || 0),
      fix_at: new Date(p.timestamp || Date.now()).toISOString(),
    };
    return state.position;
  }

  function whereText(pos) {
    if (!pos) return S.no_position;
    return fmt(S.located, { lat: pos.lat.toFixed(5), lon: pos.lon.toFixed(5), acc: pos.accuracy_m });
  }

  // ------------------------------------------------------------------------- the outbox

  async function loadOutbox() {
    state.outbox = (await Store.all()).sort((a, b) => a.seq - b.seq);
  }

  async function enqueue(item, patrolChanged) {
    item.created_at = new Date().toISOString();
    item.owner = (state.me && state.me.username) || "";
    item.status = "waiting";
    item.attempts = 0;
    item.uploaded = {};
    item.photos = item.photos || [];
    // Durable before the worker is told it is saved; with the patrol it changes, if any.
    if (patrolChanged) await Store.addWith(item, "patrol", state.patrol);
    else await Store.add(item);
    await loadOutbox();
    render();
    flush();
  }

  async function upload(photo) {
    const form = new FormData();
    form.append("file", photo.blob, "photo.jpg");
    form.append("client_id", photo.id);
    form.append("device_time", new Date().toISOString());
    form.append("taken_at", photo.taken_at);
    if (photo.position) {
      for (const k of ["lon", "lat", "accuracy_m", "fix_at"]) form.append(k, String(photo.position[k]));
    }
    const res = await call("POST", "attachments", undefined, form);
    if (res.ok) return { id: res.data.id };
    if (res.status === 401) throw new Later("signin");
    if (transient(res.status)) throw new Later();
    return { refused: { status: res.status, body: res.data } };
  }

  function finalBody(item) {
    const ids = item.photos.map((p) => item.uploaded[p.id]).filter(Boolean);
    return ids.length ? { ...item.body, attachments: ids } : item.body;
  }

  function transient(status) {
    return status === 408 || status === 429 || status >= 500;
  }

  async function refuse(item, error) {
    item.status = "refused";
    item.error = error;
    await Store.put(item);
    if (item.kind === "patrol_start" && state.patrol && state.patrol.id === item.target) {
      // The server has no such patrol: stop recording one on the phone.
      stopWatch();
      state.patrol = null;
      await Store.del("patrol");
    }
  }

  async function sendOne(item) {
    for (const photo of item.photos) {
      if (item.uploaded[photo.id]) continue;
      const up = await upload(photo);
      if (up.refused) return refuse(item, up.refused);
      item.uploaded[photo.id] = up.id;
      await Store.put(item); // an acknowledged photo is never sent twice
    }
    const entry = { kind: item.kind, key: item.key, target: item.target || "", action: item.action || "", body: finalBody(item) };
    const res = await call("POST", "mobile/outbox", { items: [entry] });
    if (res.status === 401) throw new Later("signin");
    if (transient(res.status)) throw new Later();
    if (!res.ok) return refuse(item, { status: res.status, body: res.data }); // the item itself is malformed
    const result = res.data.results[0];
    if (result.status >= 200 && result.status < 300) {
      await Store.remove(item.seq);
      if (item.kind === "report") await remember(item, result.body);
    } else if (result.status === 408 || result.status === 429) {
      throw new Later();
    } else if (result.status >= 500) {
      // A fault on the server with this item: it stays, is tried again, and the rest go on.
      item.attempts = (item.attempts || 0) + 1;
      item.last_error = result.status;
      await Store.put(item);
    } else {
      await refuse(item, { status: result.status, body: result.body });
    }
  }

  async function remember(item, receipt) {
    const sent = (await Store.get("sent")) || [];
    sent.unshift({ code: receipt.code, title: item.title, at: new Date().toISOString() });
    await Store.set("sent", sent.slice(0, 20));
  }

  async function flush() {
    // One sender at a time, also across tabs of the app.
    if (state.flushing || !online()) return;
    if (navigator.locks) return navigator.locks.request("gridgov-outbox", { ifAvailable: true }, (lock) => (lock ? send() : null));
    return send();
  }

  async function send() {
    if (state.flushing || !online()) return;
    state.flushing = true;
    renderNet();
    let sent = false;
    try {
      await loadOutbox();
      // Only the signed-in worker's own items go out under their token; a colleague's wait for them.
      for (const item of state.outbox.filter((i) => i.status !== "refused" && mine(i))) {
        await sendOne(item);
        sent = true;
      }
    } catch (e) {
      if (e instanceof Later && e.message === "signin") await signedOut();
      else if (!(e instanceof Offline || e instanceof Later)) throw e;
    } finally {
      state.flushing = false;
      await loadOutbox();
      render();
    }
    if (sent) await sync();
  }

  function mine(item) {
    return !item.owner || (state.me && item.owner === state.me.username);
  }

  function reason(error) {
    const detail = (error.body && error.body.detail) || [];
    const msgs = (Array.isArray(detail) ? detail : [detail]).map((d) => (d && d.msg) || d).filter(Boolean);
    const s = error.status;
    if (s === 409) {
      const m = /is (\w+)$/.exec(String(msgs[0] || ""));
      const label = m && state.bundle && state.bundle.states[m[1]];
      return label ? fmt(S.why_409_state, { state: label }) : S.why_409;
    }
    if (s === 404 && error.kind && error.kind.startsWith("patrol")) return S.why_patrol;
    if (s === 404) return S.why_404;
    if (s === 403) return S.why_403;
    if (s === 400 || s === 422) return S.why_400 + " " + msgs.join("; ");
    if (s === 413) return S.why_413;
    return fmt(S.why_other, { status: s });
  }

  // ------------------------------------------------------------------------- reading

  async function sync() {
    if (!online()) return;
    try {
      const res = await call("GET", "mobile/sync");
      if (res.status === 401) return signedOut();
      if (!res.ok || !res.data || !Array.isArray(res.data.tasks)) return; // keep what the phone has
      state.bundle = res.data;
      state.lastSync = new Date().toISOString();
      await Store.set("bundle", state.bundle);
      await Store.set("lastSync", state.lastSync);
      const cps = await call("GET", "checkpoints");
      if (cps.ok && Array.isArray(cps.data)) {
        state.checkpoints = cps.data;
        await Store.set("checkpoints", cps.data);
      }
      const hist = await call("GET", "mobile/history");
      if (hist.ok && hist.data && Array.isArray(hist.data.items)) {
        state.history = hist.data;
        await Store.set("history", hist.data);
      }
    } catch (e) {
      if (!(e instanceof Offline)) throw e;
    }
    render();
  }

  function tasks(tab) {
    const all = (state.bundle && state.bundle.tasks) || [];
    return tab ? all.filter((t) => t.tab === tab) : all;
  }

  function pendingFor(taskId) {
    return state.outbox.filter((i) => i.kind === "action" && i.target === taskId && i.status !== "refused");
  }

  // ------------------------------------------------------------------------- screens

  function show(name) {
    for (const s of SCREENS) $("s-" + s).hidden = s !== name;
    for (const a of document.querySelectorAll("#m-tabs a")) {
      a.classList.toggle("on", a.dataset.screen === name || (name === "task" && a.dataset.screen === "tasks"));
    }
    $("m-tabs").hidden = name === "signin";
  }

  function route() {
    if (!state.token) return show("signin");
    const [name, arg] = (location.hash.slice(1) || "home").split("/");
    if (name === "task") {
      renderTask(arg);
      return show("task");
    }
    if (name === "tasks" && arg) state.tab = arg;
    const screen = SCREENS.includes(name) && name !== "signin" ? name : "home";
    show(screen); // first, so the map measures a visible box
    if (screen === "report") startReport();
    if (screen === "patrol") showPatrol();
    render();
  }

  function render() {
    renderNet();
    if (!state.token) return;
    renderHome();
    renderTasks();
    renderMe();
    renderPatrol();
    const [name, arg] = location.hash.slice(1).split("/");
    if (name === "task" && !$("s-task").hidden && !busyTask()) renderTask(arg);
  }

  function renderNet() {
    const net = $("m-net");
    const text = !navigator.onLine ? S.offline : state.flushing ? S.sending : S.online;
    net.textContent = text;
    net.className = "m-net " + (navigator.onLine ? "on" : "off");
  }

  function taskItem(t) {
    const due = t.due_at
      ? fmt(new Date(t.due_at) < new Date() ? S.overdue : S.due, { time: when(t.due_at) })
      : S.no_due;
    const pending = pendingFor(t.id);
    return el("li", { class: "m-item light-" + t.light },
      el("a", { href: "#task/" + t.id },
        el("b", {}, t.title),
        el("span", { class: "m-meta" }, `${t.code} · ${t.state_label} · ${due}`),
        pending.length ? el("span", { class: "m-badge" }, S.waiting) : null));
  }

  function renderHome() {
    const me = (state.bundle && state.bundle.me) || state.me || {};
    $("home-name").textContent = fmt(S.hello, { name: me.display_name || me.username || "" });
    $("home-grids").textContent = (me.grids || []).map((g) => g.name || g.code).join("、");
    for (const tab of ["sign", "handle", "check"]) $("n-" + tab).textContent = tasks(tab).length;
    const waiting = state.outbox.filter((i) => i.status !== "refused").length;
    const refused = state.outbox.filter((i) => i.status === "refused").length;
    $("n-outbox").textContent = waiting;
    $("home-refused").hidden = !refused;
    $("home-refused").textContent = fmt(S.refused_count, { n: refused });
    $("home-sync").textContent = state.lastSync ? fmt(S.synced, { time: when(state.lastSync) }) : S.never_synced;
    const due = tasks().filter((t) => t.tab !== "check" && t.due_at)
      .sort((a, b) => a.due_at.localeCompare(b.due_at)).slice(0, 5);
    $("home-due").replaceChildren(...(due.length ? due.map(taskItem) : [el("li", { class: "hint" }, S.no_tasks)]));
  }

  function renderTasks() {
    for (const a of document.querySelectorAll("#s-tasks [data-tab]")) a.classList.toggle("on", a.dataset.tab === state.tab);
    const rows = tasks(state.tab);
    $("task-list").replaceChildren(...(rows.length ? rows.map(taskItem) : [el("li", { class: "hint" }, S.no_tasks)]));
  }

  function field(label, value) {
    return value ? [el("dt", {}, label), el("dd", {}, value)] : [];
  }

  function busyTask() {
    // Something typed, chosen or photographed in an action form is not thrown away by a redraw.
    const box = $("task-actions");
    return !!(box.querySelector("details[open]") || box.querySelector(".m-thumb")
      || document.activeElement.closest("#task-actions"));
  }

  const objectUrls = new Map(); // per box: the photo URLs it holds, revoked when it is redrawn

  function thumbUrl(box, blob) {
    const url = URL.createObjectURL(blob);
    if (!objectUrls.has(box)) objectUrls.set(box, []);
    objectUrls.get(box).push(url);
    return url;
  }

  function forget(box) {
    for (const url of objectUrls.get(box) || []) URL.revokeObjectURL(url);
    objectUrls.delete(box);
  }

  function renderTask(id) {
    const t = tasks().find((x) => x.id === id);
    const box = $("task-detail");
    if (!t) {
      box.replaceChildren(el("p", { class: "hint" }, S.no_tasks));
      $("task-actions").replaceChildren();
      return;
    }
    const due = t.due_at ? fmt(S.due, { time: when(t.due_at) }) : S.no_due;
    forget("task");
    box.replaceChildren(el("div", {},
      el("h2", {}, t.title),
      el("p", { class: "m-meta light-" + t.light }, `${t.code} · ${t.state_label} · ${due}`),
      el("p", {}, t.description),
      el("dl", { class: "m-fields" },
        field(S.category, t.category_name), field(S.address, t.address),
        field(S.grid, t.grid_code), field(S.reporter, t.reporter)),
      pendingFor(t.id).map((i) => el("p", { class: "m-badge" }, fmt(S.pending_action, { action: i.label }))),
      t.attachments.length ? el("h3", {}, S.attachments) : null,
      el("div", { class: "m-thumbs", id: "task-photos" }),
      el("h3", {}, S.timeline),
      el("ol", { class: "m-timeline" }, t.timeline.map((r) =>
        el("li", {}, `${when(r.at)} ${r.action_label} ${r.actor}`, r.note ? el("div", { class: "m-note" }, r.note) : null))),
    ));
    loadPhotos(t);
    const pending = new Set(pendingFor(t.id).map((i) => i.action));
    $("task-actions").replaceChildren(...t.actions.filter((a) => !pending.has(a.action)).map((a) => actionForm(t, a)));
  }

  async function loadPhotos(t) {
    const box = $("task-photos");
    const kept = !!(navigator.serviceWorker && navigator.serviceWorker.controller); // may have copies
    for (const a of t.attachments.filter((x) => x.kind === "image")) {
      if (!navigator.onLine && !kept) break;
      try {
        const res = await fetch(API + "mobile/attachments/" + a.id, { headers: { Authorization: "Bearer " + state.token }, credentials: "omit" });
        if (!res.ok) continue;
        box.append(el("img", { src: thumbUrl("task", await res.blob()), alt: "", class: "m-thumb" }));
      } catch (e) {
        break;
      }
    }
  }

  function inputFor(inp) {
    const attrs = { name: inp.name, required: inp.required };
    let control;
    if (inp.kind === "choice" && inp.choices) {
      control = el("select", attrs, inp.required ? null : el("option", { value: "" }, "—"),
        inp.choices.map((c) => el("option", { value: c.value }, c.label)));
    } else if (inp.kind === "decimal") {
      control = el("input", { ...attrs, type: "number", min: "0.5", step: "0.5" });
    } else if (inp.kind === "boolean") {
      control = el("input", { ...attrs, type: "checkbox", required: false });
    } else {
      control = el("textarea", { ...attrs, rows: 2, maxlength: 2000 });
    }
    return el("label", {}, inp.label, control);
  }

  function actionForm(t, a) {
    const photos = [];
    const thumbs = el("div", { class: "m-thumbs", id: "thumbs-" + a.action });
    const form = el("form", { class: "m-action", "data-action": a.action },
      a.inputs.map(inputFor),
      PHOTO_ACTIONS.includes(a.action)
        ? el("label", { class: "m-shoot" }, "📷 " + S.attachments,
          el("input", { type: "file", accept: "image/*", multiple: true,
            onchange: (ev) => addPhotos(ev.target, photos, thumbs, "photo") }))
        : null,
      thumbs,
      el("button", { type: "submit", class: a.action === "return" ? "" : "primary" }, a.label));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const inp of a.inputs) {
        const c = form.elements[inp.name];
        const v = inp.kind === "boolean" ? c.checked : c.value.trim();
        if (v !== "" && v !== false) values[inp.name] = v;
      }
      form.querySelector("button[type=submit]").disabled = true;
      await enqueue({
        kind: "action", key: uuid(), target: t.id, action: a.action, label: a.label,
        title: `${t.code} ${a.label}`, body: values, photos: photos.slice(),
      });
      location.hash = "#task/" + t.id;
      renderTask(t.id);
    });
    if (!a.inputs.length && !PHOTO_ACTIONS.includes(a.action)) return form; // one tap: sign, pass
    // Actions that need words or photos open when tapped, so the task stays readable.
    return el("details", { class: "m-action-box", "data-action": a.action }, el("summary", {}, a.label), form);
  }

  async function addPhotos(input, list, thumbs, role) {
    const files = Array.from(input.files || []);
    input.value = "";
    const pos = (await locate()) || state.position;
    for (const file of files) {
      let blob;
      try {
        blob = await Photos.shrink(file);
      } catch (e) {
        thumbs.append(el("span", { class: "m-error" }, S.bad_photo));
        continue;
      }
      list.push({ id: uuid(), blob, role, taken_at: new Date().toISOString(), position: pos });
      thumbs.append(el("img", { src: thumbUrl(thumbs.id || role, blob), alt: "", class: "m-thumb" }));
    }
  }

  // ------------------------------------------------------------------------- reporting

  function fillCategories() {
    const select = $("report-category");
    const cats = (state.bundle && state.bundle.categories) || [];
    if (select.options.length === cats.length + 1) return;
    const groups = new Map();
    for (const c of cats) {
      if (!groups.has(c.parent)) groups.set(c.parent, el("optgroup", { label: c.parent }));
      groups.get(c.parent).append(el("option", { value: c.code }, c.name));
    }
    select.replaceChildren(el("option", { value: "" }, S.other_category), ...groups.values());
  }

  async function startReport() {
    fillCategories();
    $("report-error").textContent = "";
    $("report-where").textContent = state.position ? whereText(state.position) : S.locating;
    const pos = await locate();
    $("report-where").textContent = whereText(pos || state.position);
  }

  function resetReport() {
    const form = $("f-report");
    form.reset();
    state.reportPhotos = [];
    forget("photo");
    forget("after");
    for (const t of form.querySelectorAll(".m-thumbs")) t.replaceChildren();
    $("report-after").hidden = true;
  }

  function fresh(pos) {
    return pos && Date.now() - new Date(pos.fix_at).getTime() < FRESH_FIX_MS;
  }

  async function submitReport(ev) {
    ev.preventDefault();
    const form = ev.target;
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true; // one tap, one report
    try {
      await fileReport(form);
    } finally {
      button.disabled = false;
    }
  }

  async function fileReport(form) {
    const error = $("report-error");
    const spot = form.elements.resolved_on_spot.checked;
    const before = state.reportPhotos.filter((p) => p.role === "photo");
    const after = spot ? state.reportPhotos.filter((p) => p.role === "after") : [];
    const pos = fresh(state.position) ? state.position : await locate();
    $("report-where").textContent = whereText(pos);
    error.className = "m-error";
    error.textContent = !fresh(pos) ? S.need_position
      : !before.length ? S.need_photo
        : spot && (!after.length || !form.elements.category.value) ? S.need_before_after : "";
    if (error.textContent) return;
    const title = form.elements.title.value.trim();
    await enqueue({
      kind: "report", key: uuid(), title,
      body: {
        channel: "app", title, description: form.elements.description.value.trim(),
        lon: pos.lon, lat: pos.lat, crs: "wgs84", address: form.elements.address.value.trim(),
        category: form.elements.category.value || null,
        urgency: form.elements.urgent.checked ? "urgent" : "normal", resolved_on_spot: spot,
      },
      photos: before.concat(after),
    });
    resetReport();
    error.className = "m-ok";
    error.textContent = S.queued;
  }

  // ------------------------------------------------------------------------- patrol

  let map = null, trackLine = null;

  function showPatrol() {
    if (!map && window.L) {
      map = L.map("patrol-map", { zoomControl: true, attributionControl: !!TILES.url });
      if (TILES.url) L.tileLayer(TILES.url, { attribution: TILES.attribution, maxZoom: 19 }).addTo(map);
      trackLine = L.polyline([], { color: "#d9480f", weight: 4 }).addTo(map);
      const grids = ((state.bundle && state.bundle.me.grids) || []).filter((g) => g.boundary);
      const outline = L.geoJSON(grids.map((g) => g.boundary), { style: { color: "#1d4e89", weight: 2, fillOpacity: 0.05 } }).addTo(map);
      if (grids.length) map.fitBounds(outline.getBounds());
      else if (state.position) map.setView([state.position.lat, state.position.lon], 15);
      else map.fitWorld();
    }
    if (map) setTimeout(() => map.invalidateSize(), 0);
    locate().then(() => renderPatrol(true));
  }

  function distance(a, b) {
    const r = 6371000, rad = Math.PI / 180;
    const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
    return Math.round(2 * r * Math.asin(Math.sqrt(h)));
  }

  function renderPatrol(recentre) {
    const p = state.patrol;
    $("patrol-status").textContent = p
      ? fmt(S.patrolling, { time: when(p.started_at), points: p.points, checkins: p.checkins.length })
      : S.not_patrolling;
    $("b-patrol").textContent = p ? S.end_patrol : S.start_patrol;
    const here = state.position;
    const cps = state.checkpoints.slice()
      .map((c) => ({ ...c, away: here ? distance(here, c) : null }))
      .sort((a, b) => (a.away ?? 1e12) - (b.away ?? 1e12));
    $("checkpoint-list").replaceChildren(...cps.map((c) => {
      const done = p && p.checkins.find((x) => x.checkpoint === c.id);
      return el("li", { class: "m-item" },
        el("b", {}, c.name),
        el("span", { class: "m-meta" }, c.away === null ? c.grid_code : fmt(S.distance, { m: c.away })),
        done ? el("span", { class: "m-badge ok" }, fmt(S.checked_in, { time: when(done.at) }))
          : p ? el("button", { type: "button", class: "primary", "data-checkpoint": c.id, onclick: (ev) => checkIn(c, ev.currentTarget) }, S.check_in) : null);
    }));
    if (!map) return;
    trackLine.setLatLngs(p ? p.track : []);
    if (!renderPatrol.markers) {
      renderPatrol.markers = L.layerGroup().addTo(map);
    }
    renderPatrol.markers.clearLayers();
    for (const c of state.checkpoints) {
      // The name as text: Leaflet would read a string as HTML.
      L.circle([c.lat, c.lon], { radius: c.radius_m, color: "#1d4e89" }).bindTooltip(el("span", {}, c.name)).addTo(renderPatrol.markers);
    }
    if (recentre && here && map.getBounds().pad(1).contains([here.lat, here.lon])) map.panTo([here.lat, here.lon]);
  }

  async function savePatrol() {
    if (state.patrol) await Store.set("patrol", state.patrol);
    else await Store.del("patrol");
  }

  async function queuePoints(force) {
    // Points go up in batches (every minute or every 30 fixes): few requests on a weak signal.
    const p = state.patrol;
    if (!p || !p.buffer.length) return;
    const due = Date.now() - new Date(p.buffer[0].at).getTime() >= POINTS_EVERY_MS;
    if (!force && !due && p.buffer.length < POINTS_PER_BATCH) return;
    const points = p.buffer.splice(0);
    const key = uuid();
    // The batch leaves the patrol's buffer and enters the outbox in one transaction.
    await enqueue({ kind: "patrol_points", key, target: p.id, title: "", body: { client_id: key, points } }, true);
  }

  let fixing = Promise.resolve();

  function onFix(position) {
    // Fixes are taken one after another, so none is lost while the previous one is saved.
    fixing = fixing.then(() => takeFix(position)).catch(() => {});
  }

  async function takeFix(position) {
    const pos = fix(position);
    const p = state.patrol;
    if (!p) return;
    p.buffer.push({ at: pos.fix_at, lon: pos.lon, lat: pos.lat, accuracy_m: pos.accuracy_m });
    p.track.push([pos.lat, pos.lon]);
    p.points += 1;
    await savePatrol();
    await queuePoints(false);
    renderPatrol(false);
  }

  function watch() {
    if (state.watch === null && navigator.geolocation) {
      state.watch = navigator.geolocation.watchPosition(onFix, () => { $("patrol-status").textContent = S.no_position; },
        { enableHighAccuracy: true, maximumAge: 5000 });
    }
    // Keep the screen on while patrolling where the browser allows it (a pocketed phone stops
    // reporting its position when the screen sleeps).
    if (navigator.wakeLock && !state.wakeLock) {
      navigator.wakeLock.request("screen").then((lock) => { state.wakeLock = lock; }).catch(() => {});
    }
  }

  function stopWatch() {
    if (state.watch !== null) navigator.geolocation.clearWatch(state.watch);
    state.watch = null;
    if (state.wakeLock) state.wakeLock.release().catch(() => {});
    state.wakeLock = null;
  }

  async function guarded(button, work) {
    if (button.disabled) return;
    button.disabled = true; // a second tap while the position is sought does nothing
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  }

  async function togglePatrol(ev) {
    await guarded(ev.currentTarget, async () => {
      if (state.patrol) return endPatrol();
      const pos = (await locate()) || state.position;
      const id = uuid();
      state.patrol = { id, started_at: new Date().toISOString(), points: 0, checkins: [], buffer: [], track: [] };
      const start = { id, started_at: state.patrol.started_at };
      if (pos) Object.assign(start, { lon: pos.lon, lat: pos.lat, accuracy_m: pos.accuracy_m });
      await enqueue({ kind: "patrol_start", key: id, target: id, title: "", body: start }, true);
      watch();
      renderPatrol(true);
    });
  }

  async function checkIn(c, button) {
    await guarded(button, async () => {
      const p = state.patrol;
      const pos = (await locate()) || state.position;
      if (!p || !pos || p.checkins.some((x) => x.checkpoint === c.id)) return;
      const key = uuid();
      const at = new Date().toISOString();
      p.checkins.push({ checkpoint: c.id, at });
      await enqueue({
        kind: "patrol_checkin", key, target: p.id, title: c.name,
        body: { id: key, checkpoint: c.id, at, lon: pos.lon, lat: pos.lat, accuracy_m: pos.accuracy_m },
      }, true);
    });
  }

  async function endPatrol() {
    await fixing; // the fixes already taken belong to this patrol
    const p = state.patrol;
    const pos = state.position;
    await queuePoints(true);
    const end = { ended_at: new Date().toISOString() };
    if (pos) Object.assign(end, { lon: pos.lon, lat: pos.lat });
    stopWatch();
    state.patrol = null;
    await enqueue({ kind: "patrol_end", key: uuid(), target: p.id, title: "", body: end }, true);
  }

  // ------------------------------------------------------------------------- me

  function renderMe() {
    const me = (state.bundle && state.bundle.me) || state.me || {};
    $("me-name").textContent = me.display_name || me.username || "";
    const numbers = (state.history && state.history.numbers) || {};
    $("me-numbers").replaceChildren(...["reported", "self_resolved", "handled", "handled_on_time"].flatMap((k) =>
      [el("dt", {}, S["numbers_" + k]), el("dd", {}, numbers[k] ?? "—")]));
    $("outbox-list").replaceChildren(...(state.outbox.length ? state.outbox.map(outboxItem)
      : [el("li", { class: "hint" }, S.nothing_waiting)]));
    const items = (state.history && state.history.items) || [];
    $("history-list").replaceChildren(...items.map((e) => el("li", { class: "m-item" },
      el("b", {}, e.title),
      el("span", { class: "m-meta" }, `${e.code} · ${e.state_label} · ${S["role_" + e.role]} · ${when(e.reported_at)}`))));
  }

  function outboxItem(item) {
    const refused = item.status === "refused";
    return el("li", { class: "m-item" + (refused ? " refused" : ""), "data-kind": item.kind },
      el("b", {}, S["kind_" + item.kind] + (item.title ? " · " + item.title : "")),
      el("span", { class: "m-meta" }, `${when(item.created_at)} · ${refused ? S.refused : S.waiting}`
        + (mine(item) ? "" : " · " + fmt(S.owner, { name: item.owner }))),
      refused ? el("p", { class: "m-reason" }, reason({ ...item.error, kind: item.kind })) : null,
      !refused && item.attempts ? el("p", { class: "m-reason" }, fmt(S.tried, { n: item.attempts })) : null,
      refused ? el("button", { type: "button", onclick: () => discard(item) }, S.discard) : null);
  }

  async function discard(item) {
    await Store.remove(item.seq);
    await loadOutbox();
    render();
  }

  // ------------------------------------------------------------------------- signing in and out

  async function signIn(ev) {
    ev.preventDefault();
    const form = ev.target;
    const error = $("signin-error");
    error.textContent = "";
    const payload = {
      username: form.elements.username.value.trim(), password: form.elements.password.value,
      otp_code: form.elements.otp_code.value.trim(), device: navigator.userAgent.slice(0, 60),
    };
    try {
      const res = await call("POST", "mobile/signin", payload);
      if (!res.ok) {
        error.textContent = res.status === 403 ? S.signin_not_worker : S.signin_failed;
        return;
      }
      state.token = res.data.token;
      state.me = { username: res.data.username, display_name: res.data.display_name };
      await Store.set("token", state.token);
      await Store.set("me", state.me);
      form.reset();
      location.hash = "#home";
      route();
      await flush();
      await sync();
    } catch (e) {
      if (!(e instanceof Offline)) throw e;
      error.textContent = S.signin_network;
    }
  }

  async function signedOut() {
    state.token = null;
    await Store.del("token");
    if (window.caches) await caches.delete("gridgov-m-photos"); // photos seen under that sign-in
    show("signin");
    $("signin-error").textContent = S.signed_out;
  }

  async function signOut() {
    await loadOutbox();
    if (state.outbox.length || state.patrol) return alert(S.signout_blocked);
    if (!confirm(S.confirm_signout)) return;
    try {
      await call("POST", "mobile/signout", {});
    } catch (e) {
      // no signal: the token stays valid on the server until revoked by the centre
    }
    await Store.clearKv();
    if (window.caches) await caches.delete("gridgov-m-photos");
    Object.assign(state, { token: null, me: null, bundle: null, history: null, checkpoints: [], lastSync: null });
    location.hash = "";
    route();
  }

  // ------------------------------------------------------------------------- start

  async function start() {
    if ("serviceWorker" in navigator && navigator.onLine) {
      // Registered only with signal: offline the registration already in place serves the app.
      navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope }).catch(() => {});
    }
    state.token = (await Store.get("token")) || null;
    state.me = (await Store.get("me")) || null;
    state.bundle = (await Store.get("bundle")) || null;
    state.lastSync = (await Store.get("lastSync")) || null;
    state.history = (await Store.get("history")) || null;
    state.checkpoints = (await Store.get("checkpoints")) || [];
    state.patrol = (await Store.get("patrol")) || null;
    await loadOutbox();
    $("f-signin").addEventListener("submit", signIn);
    $("f-report").addEventListener("submit", submitReport);
    $("report-spot").addEventListener("change", (ev) => { $("report-after").hidden = !ev.target.checked; });
    for (const box of document.querySelectorAll("#f-report .m-photos")) {
      const input = box.querySelector("input[type=file]");
      input.addEventListener("change", () => addPhotos(input, state.reportPhotos, box.querySelector(".m-thumbs"), box.dataset.role));
    }
    $("b-locate").addEventListener("click", startReport);
    $("b-sync").addEventListener("click", () => flush().then(sync));
    $("b-patrol").addEventListener("click", togglePatrol);
    $("b-signout").addEventListener("click", signOut);
    window.addEventListener("hashchange", route);
    window.addEventListener("online", () => flush().then(sync));
    window.addEventListener("offline", renderNet);
    setInterval(() => { if (state.outbox.some((i) => i.status !== "refused" && mine(i))) flush(); }, RETRY_MS);
    if (state.patrol) watch();
    route();
    body.dataset.ready = "1";
    await flush();
    await sync();
  }

  start();
})();
