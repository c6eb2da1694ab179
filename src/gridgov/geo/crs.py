"""Coordinate systems used in China: WGS-84 (GPS, CGCS2000 at city scale), GCJ-02 (WeChat,
Tencent, Amap) and BD-09 (Baidu).

The forward obfuscations come from ``prcoords`` (public domain). The inverses here iterate the
forward function to a fixed point (Newton-like, contraction factor ~1e-5 per step), so the error is
far below a millimetre instead of the ~4 m of the one-step inverse most code uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

import prcoords


class CRS(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# A bounding box generous enough for the whole country; outside it no obfuscation applies.
def in_china(lon: float, lat: float) -> bool:
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if not in_china(lon, lat):
        return lon, lat
    c = prcoords.wgs_gcj((lat, lon), False)
    return c.lon, c.lat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.gcj_bd((lat, lon))
    return c.lon, c.lat


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


Transform = Callable[[float, float], tuple[float, float]]
_FORWARD: dict[CRS, Transform] = {CRS.GCJ02: wgs84_to_gcj02, CRS.BD09: wgs84_to_bd09}

TOLERANCE_DEG = 1e-11  # ~1 µm
MAX_STEPS = 30


def _invert(forward: Transform, lon: float, lat: float) -> tuple[float, float]:
    x, y = lon, lat
    for _ in range(MAX_STEPS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x, y = x - dx, y - dy
        if math.hypot(dx, dy) < TOLERANCE_DEG:
            break
    return x, y


def to_wgs84(lon: float, lat: float, crs: CRS | str = CRS.WGS84) -> tuple[float, float]:
    """Convert a point given in ``crs`` to WGS-84 (accurate iterative inverse)."""
    crs = CRS(crs)
    if crs is CRS.WGS84 or not in_china(lon, lat):
        return lon, lat
    return _invert(_FORWARD[crs], lon, lat)


def from_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    crs = CRS(crs)
    if crs is CRS.WGS84:
        return lon, lat
    return _FORWARD[crs](lon, lat)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))
