"""The grid workers' app: a PWA (manifest, service worker, offline outbox)."""
