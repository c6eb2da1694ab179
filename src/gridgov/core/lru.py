"""A small in-process cache of things made once: compiled statements, rendered fragments."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRU:
    """Values by key, the most recently used kept (at most ``size``), shared by the threads of
    a process. A value is made outside the lock: two threads may both make the same one, so
    ``make`` must answer the same for the same key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.found: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.found:
                self.found.move_to_end(key)
                return self.found[key]
        made = make()
        with self.lock:
            self.found[key] = made
            while len(self.found) > self.size:
                self.found.popitem(last=False)
        return made
