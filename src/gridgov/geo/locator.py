"""GridLocator: (lon, lat, crs) → grid, in microseconds, with Shapely STRtrees.

Dedicated grids (schools, markets …) win over the base grid they overlap; where two dedicated
grids overlap the smaller wins. A point outside every grid gets the nearest base grid and the
distance to it. Each process keeps one locator and rebuilds it when the grids are redrawn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from .crs import CRS, distance_m, to_wgs84
from .geometry import area_m2, polygon_from_geojson


@dataclass(frozen=True)
class GridRow:
    grid_id: int
    code: str
    kind: str  # "base" | "dedicated"
    geometry: BaseGeometry


@dataclass(frozen=True)
class Location:
    code: str
    grid_id: int
    kind: str
    inside: bool
    distance_m: float  # 0 when inside
    lon: float  # the WGS-84 point that was located
    lat: float


class _Layer:
    """One STRtree over grids of one kind, with codes and areas kept beside it."""

    def __init__(self, rows: Sequence[GridRow]) -> None:
        self.rows = list(rows)
        self.geoms = np.array([r.geometry for r in self.rows], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = STRtree(self.geoms)
        self.areas = np.array([area_m2(r.geometry) for r in self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    def hits(self, point: Point) -> np.ndarray:
        if not self.rows:
            return np.empty(0, dtype=np.intp)
        return self.tree.query(point, predicate="intersects")


class GridLocator:
    def __init__(self, rows: Iterable[GridRow], stamp: object = None) -> None:
        rows = list(rows)
        self.stamp = stamp
        self.dedicated = _Layer([r for r in rows if r.kind == "dedicated"])
        self.base = _Layer([r for r in rows if r.kind != "dedicated"])

    def __len__(self) -> int:
        return len(self.dedicated) + len(self.base)

    def locate(self, lon: float, lat: float, crs: CRS | str = CRS.WGS84) -> Location | None:
        x, y = to_wgs84(lon, lat, crs)
        point = Point(x, y)
        hits = self.dedicated.hits(point)
        if len(hits):
            best = min(hits, key=lambda i: (self.dedicated.areas[i], self.dedicated.rows[i].code))
            return self._inside(self.dedicated.rows[best], x, y)
        hits = self.base.hits(point)
        if len(hits):
            best = min(hits, key=lambda i: self.base.rows[i].code)  # on a shared edge: lowest code
            return self._inside(self.base.rows[best], x, y)
        return self._nearest(point)

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> list[str | None]:
        """Batch lookup of WGS-84 points; returns grid codes (None when outside every grid)."""
        points = shapely.points(lons, lats)
        result: list[str | None] = [None] * len(points)
        for layer in (self.base, self.dedicated):  # dedicated last so it overwrites base
            if not len(layer):
                continue
            pairs = layer.tree.query(points, predicate="intersects")
            for point_i, grid_i in zip(pairs[0], pairs[1], strict=True):
                result[point_i] = layer.rows[grid_i].code
        return result

    @staticmethod
    def _inside(row: GridRow, x: float, y: float) -> Location:
        return Location(row.code, row.grid_id, row.kind, True, 0.0, x, y)

    def _nearest(self, point: Point) -> Location | None:
        if not len(self.base):
            return None
        # Nearest in degrees picks the candidate; the distance is then measured in metres.
        idx = self.base.tree.query_nearest(point, all_matches=False)
        row = self.base.rows[int(idx[0])]
        near = nearest_points(row.geometry, point)[0]
        dist = distance_m(point.x, point.y, near.x, near.y)
        return Location(row.code, row.grid_id, row.kind, False, dist, point.x, point.y)


def rows_from_db() -> list[GridRow]:
    from gridgov.regions.models import Grid

    current = Grid.objects.filter(effective_to__isnull=True).order_by("code")
    return [
        GridRow(gid, code, kind, polygon_from_geojson(boundary))
        for gid, code, kind, boundary in current.values_list("id", "code", "kind", "boundary")
    ]


def db_stamp() -> tuple[int, int]:
    """Changes whenever grids are redrawn: latest revision id and number of current grids."""
    from gridgov.regions.models import Grid, GridRevision

    latest = GridRevision.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return latest, Grid.objects.filter(effective_to__isnull=True).count()


_lock = threading.Lock()
_cached: GridLocator | None = None
_checked_at = 0.0


def get_locator() -> GridLocator:
    """This process's locator, rebuilt when another process has redrawn the grids."""
    global _cached, _checked_at
    from django.conf import settings

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
