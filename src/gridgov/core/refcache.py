"""A small per-process cache for reference data that changes rarely (centres, categories,
time limits). Entries live for REFERENCE_CACHE_SECONDS; tests set it to 0."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")
_lock = threading.Lock()
_store: dict[Hashable, tuple[float, Any]] = {}


def cached(key: Hashable, load: Callable[[], T]) -> T:
    ttl = float(getattr(settings, "REFERENCE_CACHE_SECONDS", 30.0))
    now = time.monotonic()
    with _lock:
        hit = _store.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    value = load()
    with _lock:
        _store[key] = (now, value)
    return value


def clear() -> None:
    with _lock:
        _store.clear()
