// gridgov grid worker app: the service worker. It keeps the app's files so the app opens with
// no signal; the worker's data and the outbox live in IndexedDB (store.js), not here.
"use strict";
const VERSION = "{{ version }}";
const SHELL = {{ shell|safe }};
const FILES = {{ urls|safe }};
const CACHE = "gridgov-m-" + VERSION;
const PHOTOS = "gridgov-m-photos";

self.addEventListener("install", (event) => {
  // Past the browser's HTTP cache: a new version must not store an old file of the same name.
  const fresh = FILES.map((url) => new Request(url, { cache: "reload" }));
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(fresh)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("gridgov-m-") && k !== CACHE && k !== PHOTOS)
          .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

async function fromCache(request) {
  const cache = await caches.open(CACHE);
  return cache.match(request, { ignoreSearch: true, ignoreVary: true });
}

async function shell(request) {
  // The app's page: the stored copy first (it opens at once with or without signal); the
  // service worker's own update check brings a new version.
  return (await fromCache(SHELL)) || fetch(request);
}

async function photo(request) {
  const cache = await caches.open(PHOTOS);
  const kept = await cache.match(request, { ignoreVary: true });
  if (kept) return kept;
  const answer = await fetch(request);
  if (answer.ok) cache.put(request, answer.clone());
  return answer;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith(SHELL)) {
    event.respondWith(shell(request));
  } else if (url.pathname.startsWith("/api/v1/mobile/attachments/")) {
    event.respondWith(photo(request));
  } else if (FILES.includes(url.pathname)) {
    event.respondWith(fromCache(request).then((hit) => hit || fetch(request)));
  }
});
