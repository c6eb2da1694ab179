"""Track arithmetic on plain numbers: length of a walk, which points are good enough to count,
thinning for a map. No database here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

EARTH_RADIUS_M = 6371008.8
# A point whose phone says it may be further off than this is kept in the track but neither
# lengthens the walk nor marks a grid as patrolled (a cell-tower fix jumps hundreds of metres).
COUNTED_ACCURACY_M = 200.0


def counts(accuracy_m: float | None) -> bool:
    return accuracy_m is None or accuracy_m <= COUNTED_ACCURACY_M


def length_m(lons: Sequence[float], lats: Sequence[float]) -> float:
    """The walk's length: the sum of great-circle distances between consecutive points."""
    if len(lons) < 2:
        return 0.0
    lon = np.radians(np.asarray(lons, dtype=float))
    lat = np.radians(np.asarray(lats, dtype=float))
    dlat, dlon = np.diff(lat), np.diff(lon)
    h = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return float(np.sum(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))))


def thin(rows: list[T], most: int) -> list[T]:
    """At most ``most`` rows of a track, evenly spaced, first and last kept."""
    if len(rows) <= most or most < 2:
        return rows
    step = (len(rows) - 1) / (most - 1)
    return [rows[round(i * step)] for i in range(most)]
