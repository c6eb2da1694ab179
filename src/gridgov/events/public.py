"""Reads for the public: the square map (广场地图) and a reporter's progress page.

The square map sees only events a centre accepted in public, non-sensitive categories
(``is_public``), counted per cell of a map tile, at a place snapped to the centre of a
0.001° cell (about 100 m) or coarser; never a person, a case number, a reporter's words, an
exact point. A reporter who proves the report is theirs (the receipt's secret or the phone's
last four digits) sees their own report's progress, still without handlers' names or notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from . import square
from .models import Category, Event, SquareCount
from .states import PUBLIC_STAGE_LABELS, PUBLIC_STAGES, STAGE_OF_STATE, STATE_LABELS, State

SNAP = 0.001  # degrees: the finest place the public sees (about 90 × 110 m here)
CELLS_PER_TILE = 8  # clusters per tile side below the finest level
MAX_SPOT_ITEMS = 50


@dataclass(frozen=True)
class Box:
    west: float
    south: float
    east: float
    north: float


def tile_box(z: int, x: int, y: int) -> Box:
    """The WGS-84 box of a web-map tile (the usual z/x/y scheme)."""
    n = 2.0**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return Box(x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y))


def on_square_categories(category: str = "") -> list[int]:
    """The categories the square map may show now (public, not sensitive: read each time, so
    a category an administrator makes sensitive disappears at once), under ``category``."""
    found = Category.objects.filter(public=True, sensitive=False)
    if category:
        found = found.filter(code__startswith=category)
    return list(found.values_list("pk", flat=True))


def level_for(width: float) -> int:
    """The coarsest counter level whose cells are at most an eighth of ``width`` degrees."""
    wanted = width / CELLS_PER_TILE
    fitting = [n for n, size in enumerate(square.LEVELS) if size <= wanted]
    return fitting[-1] if fitting else 0


def square_cells(
    box: Box, cell: float, category: str = "", stage: str = ""
) -> list[dict[str, Any]]:
    """Public events in ``box`` as counts per cell of the counter level that fits ``cell``
    (degrees), each at its cell's centre, with its count per public stage. Reads counters
    (events/square.py), never the events: a city-wide tile costs what a street's does."""
    level = level_for(cell * CELLS_PER_TILE)
    size = square.LEVELS[level]
    # the cells whose centre lies in the box, so neighbouring tiles never count one twice
    x0, x1 = math.ceil(box.west / size - 0.5), math.ceil(box.east / size - 0.5) - 1
    y0, y1 = math.ceil(box.south / size - 0.5), math.ceil(box.north / size - 0.5) - 1
    qs = SquareCount.objects.filter(
        level=level, cx__gte=x0, cx__lte=x1, cy__gte=y0, cy__lte=y1, n__gt=0
    )
    if stage:
        qs = qs.filter(stage=stage)
    qs = qs.filter(category_id__in=on_square_categories(category))
    cells: dict[tuple[int, int], dict[str, int]] = {}
    totals = qs.values("cx", "cy", "stage").annotate(total=Sum("n"))
    for cx, cy, st, n in totals.values_list("cx", "cy", "stage", "total"):
        stages = cells.setdefault((cx, cy), dict.fromkeys(PUBLIC_STAGES, 0))
        stages[st] += int(n)
    return [
        {
            "lon": _snap((cx + 0.5) * size),
            "lat": _snap((cy + 0.5) * size),
            "count": sum(stages.values()),
            "stages": stages,
        }
        for (cx, cy), stages in sorted(cells.items())
    ]


def _snap(value: float) -> float:
    """The centre of the 0.001° cell a value lies in: nothing finer leaves the server."""
    return round((math.floor(value / SNAP) + 0.5) * SNAP, 4)


def spot(lon: float, lat: float, category: str = "", stage: str = "") -> list[Event]:
    """The public events of the 0.001° cell a snapped place lies in, newest first: the cell
    worked out exactly as the counters do (events/square.py), so a dot and its list agree."""
    size = square.LEVELS[0]
    cell = square.cell(size, lon, lat)
    margin = size / 2  # a little wider in SQL, then the counters' own arithmetic decides
    west, south = cell[0] * size - margin, cell[1] * size - margin
    states = PUBLIC_STAGES[stage] if stage else frozenset().union(*PUBLIC_STAGES.values())
    qs = Event.objects.filter(
        is_public=True,
        state__in=[str(s) for s in states],
        category_id__in=on_square_categories(category),
        lat__gte=south,
        lat__lt=south + size + 2 * margin,
        lon__gte=west,
        lon__lt=west + size + 2 * margin,
    ).select_related("category")
    inside = [e for e in qs.order_by("-reported_at") if square.cell(size, e.lon, e.lat) == cell]
    return inside[:MAX_SPOT_ITEMS]


def square_item(e: Event) -> dict[str, Any]:
    """One event as the square map tells it: no code, no words of the reporter, no person."""
    stage = STAGE_OF_STATE[State(e.state)]
    return {
        "category": e.category.name if e.category else "",
        "stage": stage,
        "stage_label": str(PUBLIC_STAGE_LABELS[stage]),
        "reported_on": timezone.localdate(e.reported_at),
        "closed_on": timezone.localdate(e.closed_at) if e.closed_at else None,
        "reply": e.public_reply,
    }


# ----------------------------------------------------------------------------- progress


def case(code: str) -> Event | None:
    return (
        Event.objects.select_related("category", "receiving_centre", "parent")
        .filter(code=code)
        .first()
    )


PUBLIC_STEPS = {
    "report": "reported",
    "self_resolve": "reported",
    "accept": "accepted",
    "confirm": "accepted",
    "dispatch": "dispatched",
    "redispatch": "dispatched",
    "reject_return": "dispatched",
    "sign": "handling",
    "verify_pass": "closed",
    "reopen": "reopened",
    "reject": "rejected",
    "refute": "rejected",
    "close_no_action": "rejected",
    "merge": "merged",
    "cancel": "withdrawn",
    "rate": "rated",
}


def progress(e: Event) -> dict[str, Any]:
    """What the reporter sees of their own report (after the proof)."""
    followed = e.parent if e.state == State.MERGED and e.parent else e
    steps = [
        {"step": PUBLIC_STEPS[t.action], "at": t.at}
        for t in followed.timeline.order_by("seq").only("action", "at")
        if t.action in PUBLIC_STEPS
    ]
    state = State(followed.state)
    return {
        "code": e.code,
        "title": e.title,
        "description": e.description,
        "category": e.category.name if e.category else "",
        "state": state.value,
        "state_label": str(STATE_LABELS[state]),
        "stage": STAGE_OF_STATE.get(state, ""),
        "merged_into": followed.code if followed is not e else "",
        "receiving_centre": e.receiving_centre.name,
        "reported_at": e.reported_at,
        "closed_at": followed.closed_at,
        "reply": followed.public_reply,
        "steps": steps,
        "may_withdraw": e.state in (State.REPORTED, State.VERIFYING),
        # the report's own state: a merged report follows its parent but is not rated
        "may_rate": e.state in (State.CLOSED, State.ARCHIVED) and not e.rating,
        "rating": e.rating,
        "rated_at": e.rated_at,
    }


def overview(e: Event) -> dict[str, Any] | None:
    """Without a proof: only what the square map would show, and only for a public event."""
    if not e.is_public or State(e.state) not in STAGE_OF_STATE:
        return None
    if e.category_id not in on_square_categories():
        return None
    return {"code": e.code, **square_item(e)}


# ----------------------------------------------------------------------------- other doors


def on_square() -> Q:
    """The events the square map may show, as a filter (Open311's ``GET requests`` lists no
    others to strangers): accepted, public, in a category on the square now."""
    return Q(
        is_public=True,
        state__in=sorted(str(s) for s in STAGE_OF_STATE),
        category_id__in=on_square_categories(),
    )


def snapped(lon: float, lat: float) -> tuple[float, float]:
    """A place as the square map shows it: the centre of its 0.001° cell."""
    return _snap(lon), _snap(lat)
