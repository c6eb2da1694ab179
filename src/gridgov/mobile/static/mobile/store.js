// gridgov grid worker app: what the phone keeps, in IndexedDB. "kv" holds the sign-in, the
// day's tasks and the patrol in progress; "outbox" holds every report and action not yet
// acknowledged by the server, photos included, in the order they were made.
"use strict";
(function () {
  const NAME = "gridgov-m";
  let opening = null;

  function promised(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  function open() {
    if (!opening) {
      const request = indexedDB.open(NAME, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("kv");
        db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      };
      opening = promised(request);
    }
    return opening;
  }

  async function run(store, mode, work) {
    const db = await open();
    const tx = db.transaction(store, mode);
    const result = Array.isArray(store) ? work(tx) : work(tx.objectStore(store));
    // Resolve only once the transaction is durable: a closed page must not lose it.
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result instanceof IDBRequest ? result.result : result;
  }

  window.GGStore = {
    get: (key) => run("kv", "readonly", (s) => s.get(key)),
    set: (key, value) => run("kv", "readwrite", (s) => s.put(value, key)),
    del: (key) => run("kv", "readwrite", (s) => s.delete(key)),
    add: (item) => run("outbox", "readwrite", (s) => s.add(item)),
    // An outbox item and the state it changes (the patrol on the phone) in one transaction:
    // a closed app keeps both or neither.
    addWith: (item, key, value) => run(["outbox", "kv"], "readwrite", (tx) => {
      const kv = tx.objectStore("kv");
      if (value === null) kv.delete(key); else kv.put(value, key);
      return tx.objectStore("outbox").add(item);
    }),
    put: (item) => run("outbox", "readwrite", (s) => s.put(item)),
    remove: (seq) => run("outbox", "readwrite", (s) => s.delete(seq)),
    all: () => run("outbox", "readonly", (s) => s.getAll()),
    clearKv: () => run("kv", "readwrite", (s) => s.clear()),
  };
})();
