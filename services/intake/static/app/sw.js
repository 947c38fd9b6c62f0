// Service worker of the operator app: keeps the app's own files so that it starts offline.
// Forms, photos and reads (/v1/..., /app/v1/...) are not touched here: the page queues forms and
// their photos in IndexedDB and sends them itself, so a retry always carries the same
// Idempotency-Key (and the same photo bytes, which the intake stores once).
"use strict";

const CACHE = "deskpemilu-app-v2";
const SHELL = [
  "/app/",
  "/app/app.css",
  "/app/app.js",
  "/app/checks.js",
  "/app/store.js",
  "/app/manifest.webmanifest",
  "/app/icon.svg",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname === "/app" ? "/app/" : url.pathname;
  if (!SHELL.includes(path)) return;
  // Network first (a new version shows at once); the cached copy when there is no network or
  // it answers too slowly (one bar of signal), while the download goes on to refresh the cache.
  const fresh = fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(path, copy));
    }
    return response;
  });
  const cached = () => caches.match(path);
  const slow = new Promise((resolve) => setTimeout(resolve, 3000)).then(cached);
  event.respondWith(
    Promise.race([fresh.catch(cached), slow])
      .then((response) => response || fresh)
      .catch(() => Response.error())
  );
});
