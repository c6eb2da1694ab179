"""GridLocator: (lon, lat, crs) → grid, in microseconds, with Shapely STRtrees.

Dedicated grids (schools, markets …) win over the base grid they overlap; where two dedicated
grids overlap the smaller wins. A point outside every grid gets the nearest base grid and the
distance to it. Each process keeps one locator and rebuilds it when the grids are redrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from .crs import CRS, distance_m, to_wgs84
from .geometry import area_m2


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

    def covering_many(self, lons: np.ndarray, lats: np.ndarray) -> list[set[str]]:
        """Every grid (dedicated and base) each WGS-84 point lies in: a walk through a school's
        grid is also a walk through the base grid around it."""
        points = shapely.points(lons, lats)
        result: list[set[str]] = [set() for _ in range(len(points))]
        for layer in (self.base, self.dedicated):
            if not len(layer):
                continue
            pairs = layer.tree.query(points, predicate="intersects")
            for point_i, grid_i in zip(pairs[0], pairs[1], strict=True):
                result[point_i].add(layer.rows[grid_i].code)
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
