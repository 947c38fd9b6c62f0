// IndexedDB: the outbox of forms (with their Idempotency-Key), the photos attached to them,
// drafts, and the cached setup and states, so that the app works offline and nothing typed or
// photographed is lost when the browser closes.
"use strict";

(function (global) {
  const DB_NAME = "deskpemilu-app";
  const VERSION = 2; // 2: the photos store
  let opened = null;

  function open() {
    if (opened) return opened;
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        // queue: one record per form sent, keyed by its Idempotency-Key.
        if (!db.objectStoreNames.contains("queue")) db.createObjectStore("queue", { keyPath: "key" });
        // drafts: numbers typed but not sent, per election|contest|tps.
        if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", { keyPath: "id" });
        // photos: the bytes of a photo attached to a queued form, keyed like the form, until the
        // intake has stored them (the queue record carries only the photo's name and state).
        if (!db.objectStoreNames.contains("photos")) db.createObjectStore("photos", { keyPath: "key" });
        // kv: setup and status answers, kept for offline starts.
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return opened;
  }

  async function run(store, mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
      const req = fn(tx.objectStore(store));
      if (req) req.onsuccess = () => { result = req.result; };
    });
  }

  global.DeskStore = {
    get: (store, key) => run(store, "readonly", (s) => s.get(key)),
    put: (store, value, key) => run(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key))),
    del: (store, key) => run(store, "readwrite", (s) => s.delete(key)),
    all: (store) => run(store, "readonly", (s) => s.getAll()),
  };
})(typeof self !== "undefined" ? self : this);
