"""Give memory back to the operating system when large buffers are freed.

A decoded 40-megapixel photo takes about 160 MB. glibc serves such buffers from per-thread
arenas once its adaptive mmap threshold has grown, and keeps them after they are freed, so a
web worker with four threads ends up holding four decoded photos' worth of memory for good
(seen: +1 GB). A fixed mmap threshold makes every large buffer its own mapping, unmapped the
moment it is freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD_BYTES = 4 * 2**20


def release_large_buffers() -> bool:
    """Set the fixed mmap threshold (glibc only; elsewhere a no-op). True if it took effect."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    except (OSError, AttributeError):
        log.info("mallopt is not available; large buffers stay with the allocator")
        return False
