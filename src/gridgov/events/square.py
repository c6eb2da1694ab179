"""The square map's counters (models.SquareCount): every public event counted once per level
in the cell its point lies in, by category and public stage.

``follow(before, event)`` moves an event's counts when what the square map knows of it changed
(it became public, changed stage, category or place); the engine calls it for every action in
the action's transaction, intake for every new event. ``rebuild()`` recomputes everything from
the events (after a bulk import, or to check the counters)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction

from .models import Event, SquareCount
from .states import STAGE_OF_STATE, State

# Cell sizes in degrees, finest first: 0.001° is the finest place the public ever sees.
LEVELS = (0.001, 0.004, 0.016, 0.064, 0.256)

Key = tuple[int, str, float, float]  # category id, stage, lon, lat


def key_of(values: Mapping[str, Any]) -> Key | None:
    """What the square map counts of an event (its field values), or None if nothing."""
    stage = STAGE_OF_STATE.get(State(values["state"])) if values.get("state") else None
    if not values.get("is_public") or stage is None or values.get("category_id") is None:
        return None
    return int(values["category_id"]), stage, float(values["lon"]), float(values["lat"])


def cell(size: float, lon: float, lat: float) -> tuple[int, int]:
    return math.floor(lon / size), math.floor(lat / size)


def follow(before: Mapping[str, Any] | None, event: Event) -> None:
    old = key_of(before) if before is not None else None
    new = key_of(event.__dict__)
    if old == new:
        return
    rows: list[tuple[int, int, int, int, str, int]] = []
    for delta, k in ((-1, old), (1, new)):
        if k is None:
            continue
        category, stage, lon, lat = k
        for level, size in enumerate(LEVELS):
            cx, cy = cell(size, lon, lat)
            rows.append((level, cx, cy, category, stage, delta))
    # Always the same order of rows: two actions that swap an event's counters between the same
    # cells (one into a stage, one out of it) then lock them in the same order, never deadlock.
    _add(sorted(rows))


def _add(rows: Iterable[tuple[int, int, int, int, str, int]]) -> None:
    table = connection.ops.quote_name(SquareCount._meta.db_table)
    sql = (
        f"INSERT INTO {table} (level, cx, cy, category_id, stage, n) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (level, cx, cy, category_id, stage) "
        f"DO UPDATE SET n = {table}.n + excluded.n"
    )
    with connection.cursor() as cur:
        cur.executemany(sql, list(rows))


def recount() -> dict[tuple[int, int, int, int, str], int]:
    """What the counters should hold, worked out from the events (nothing is written)."""
    counts: dict[tuple[int, int, int, int, str], int] = {}
    events = Event.objects.filter(is_public=True, category__isnull=False)
    for values in events.values("category_id", "state", "is_public", "lon", "lat").iterator(
        chunk_size=5000
    ):
        k = key_of(values)
        if k is None:
            continue
        category, stage, lon, lat = k
        for level, size in enumerate(LEVELS):
            cx, cy = cell(size, lon, lat)
            slot = (level, cx, cy, category, stage)
            counts[slot] = counts.get(slot, 0) + 1
    return counts


def held() -> dict[tuple[int, int, int, int, str], int]:
    """What the counters hold (the non-zero ones)."""
    rows = SquareCount.objects.filter(n__gt=0)
    return {(r.level, r.cx, r.cy, r.category_id, r.stage): r.n for r in rows}


def rebuild() -> int:
    """Recount every public event (in one transaction); returns how many were counted."""
    counts = recount()
    with transaction.atomic():
        SquareCount.objects.all().delete()
        SquareCount.objects.bulk_create(
            (
                SquareCount(level=lv, cx=cx, cy=cy, category_id=cat, stage=st, n=n)
                for (lv, cx, cy, cat, st), n in counts.items()
            ),
            batch_size=2000,
        )
    return sum(n for (level, *_rest), n in counts.items() if level == 0)
