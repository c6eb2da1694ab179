"""This process's grid locator over the current grids, rebuilt when another process redrew them.

``geo.locator.GridLocator`` does the geometry on rows handed to it; this module reads the rows.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from gridgov.geo.geometry import polygon_from_geojson
from gridgov.geo.locator import GridLocator, GridRow

from .models import Grid, GridRevision


def rows_from_db() -> list[GridRow]:
    current = Grid.objects.filter(effective_to__isnull=True).order_by("code")
    return [
        GridRow(gid, code, kind, polygon_from_geojson(boundary))
        for gid, code, kind, boundary in current.values_list("id", "code", "kind", "boundary")
    ]


def db_stamp() -> tuple[int, int]:
    """Changes whenever grids are redrawn: latest revision id and number of current grids."""
    latest = GridRevision.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return latest, Grid.objects.filter(effective_to__isnull=True).count()


_lock = threading.Lock()
_cached: GridLocator | None = None
_checked_at = 0.0


def get_locator() -> GridLocator:
    """This process's locator, rebuilt when another process has redrawn the grids."""
    global _cached, _checked_at

    with _lock:
        now = time.monotonic()
        if _cached is not None and now - _checked_at < settings.LOCATOR_STAMP_TTL:
            return _cached
        stamp = db_stamp()
        _checked_at = now
        if _cached is None or _cached.stamp != stamp:
            _cached = GridLocator(rows_from_db(), stamp)
        return _cached


def invalidate() -> None:
    """Forget the cached locator (this process redrew the grids)."""
    global _cached
    with _lock:
        _cached = None
