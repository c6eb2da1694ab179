"""Reads for the command views: the leader wall's figures, the supervision board, the map.
Every read goes through the one scope filter (restrict) or, for the daily statistics, through
the same reach expressed on township codes (``stats_prefixes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Cast, Substr

from gridgov.core import scope
from gridgov.core.codes import LENGTH, Level, code_range, collapse
from gridgov.events.models import Event, Urge
from gridgov.events.queries import Filters, WorkList, filtered
from gridgov.events.states import OPEN

from .models import DailyStat
from .rollups import day_start, local_day

OPEN_STATES = sorted(s.value for s in OPEN)
TOWNSHIP_LEN = LENGTH[Level.TOWNSHIP]
TREND_DAYS = 30


# ----------------------------------------------------------------------------- scope


def stats_prefixes(user: Any) -> list[str] | None:
    """The caller's statistics reach as township-or-wider prefixes, or None when none of it can
    be said in townships (a grid worker's grid, a department's own events): the daily figures
    are kept per township and must never show more than the caller may see. A narrower reach
    beside a wide one (a city leader who also works a grid) is left out, never widened."""
    reaches = scope.reach(user, "event", "stats")
    wide = [r.prefix for r in reaches if r.condition is None and len(r.prefix) <= TOWNSHIP_LEN]
    if not wide:
        return None
    return collapse(wide)


def _located(qs: QuerySet[Event], prefixes: list[str]) -> QuerySet[Event]:
    """The wall's events: those lying inside the caller's township-or-wider reach (by where
    they are, as the daily figures count them). A subset of ``restrict(…, "stats")``: the
    prefixes come from the same reach (``stats_prefixes``)."""
    return qs.filter(_in("grid_code", prefixes))


def _in(field: str, prefixes: list[str]) -> Q:
    q = Q(pk__in=[])
    for p in prefixes:
        q |= code_range(field, p)
    return q


def child_length(prefixes: list[str]) -> int:
    """The level the wall breaks figures down by: one below the caller's widest reach (a city
    by county, a county by township); a township is shown as itself."""
    widest = min(len(p) for p in prefixes)
    longer = sorted(n for n in LENGTH.values() if n > widest)
    return min(longer[0] if longer else widest, TOWNSHIP_LEN)


# ----------------------------------------------------------------------------- the wall


@dataclass(frozen=True)
class Period:
    today: date
    month_start: date
    trend_start: date

    @classmethod
    def at(cls, now: datetime) -> Period:
        today = local_day(now)
        return cls(today, today.replace(day=1), today - timedelta(days=TREND_DAYS - 1))


def _stats(prefixes: list[str], since: date, until: date) -> QuerySet[DailyStat]:
    """Finished days in [since, until) of the rolled-up figures inside the reach."""
    return DailyStat.objects.filter(_in("township", prefixes), day__gte=since, day__lt=until)


def _today(prefixes: list[str], now: datetime, period: Period) -> QuerySet[Event]:
    # Both ends of the range given: SQLite then reads it from the reported_at index.
    qs = Event.objects.filter(reported_at__gte=day_start(period.today), reported_at__lte=now)
    return _located(qs, prefixes)


def _closed_today(prefixes: list[str], now: datetime, period: Period) -> QuerySet[Event]:
    qs = Event.objects.filter(closed_at__gte=day_start(period.today), closed_at__lte=now)
    return _located(qs, prefixes)


def _sum(rows: Any, key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in rows:
        k = str(r[key] or "")
        acc = out.setdefault(k, [0, 0, 0])
        acc[0] += r.get("reported") or 0
        acc[1] += r.get("closed") or 0
        acc[2] += r.get("on_time") or 0
    return out


def _merge(*parts: dict[str, list[int]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for part in parts:
        for k, v in part.items():
            acc = out.setdefault(k, [0, 0, 0])
            for i in range(3):
                acc[i] += v[i]
    return out


def flows(prefixes: list[str], now: datetime, period: Period, key: str) -> Any:
    """This month's reports and closures by ``key`` (category, channel or region): finished
    days from the rollup, today counted live."""
    child = child_length(prefixes)
    stat_key = {"region": Substr("township", 1, child)} if key == "region" else {}
    rolled = (
        _stats(prefixes, period.month_start, period.today)
        .annotate(**stat_key)
        .values(key)
        .annotate(reported=Sum("reported"), closed=Sum("closed"), on_time=Sum("closed_on_time"))
        .order_by()
    )
    live_key: dict[str, Any] = {
        "category": Substr("category__code", 1, 2),
        "channel": F("channel"),
        "region": Substr("grid_code", 1, child),
    }
    today = (
        _today(prefixes, now, period)
        .annotate(k=live_key[key])
        .values("k")
        .annotate(reported=Count("pk"))
        .order_by()
    )
    closed = (
        _closed_today(prefixes, now, period)
        .annotate(k=live_key[key])
        .values("k")
        .annotate(closed=Count("pk"), on_time=Count("pk", filter=Q(closed_on_time=True)))
        .order_by()
    )
    return _merge(_sum(rolled, key), _sum(today, "k"), _sum(closed, "k"))


def trend(prefixes: list[str], now: datetime, period: Period) -> dict[str, Any]:
    rolled = (
        _stats(prefixes, period.trend_start, period.today)
        .values("day")
        .annotate(reported=Sum("reported"), closed=Sum("closed"))
        .order_by()
    )
    by_day = {r["day"]: (r["reported"] or 0, r["closed"] or 0) for r in rolled}
    by_day[period.today] = (
        _today(prefixes, now, period).count(),
        _closed_today(prefixes, now, period).count(),
    )
    days = [period.trend_start + timedelta(days=i) for i in range(TREND_DAYS)]
    return {
        "days": [d.isoformat() for d in days],
        "reported": [by_day.get(d, (0, 0))[0] for d in days],
        "closed": [by_day.get(d, (0, 0))[1] for d in days],
    }


def open_by_region(prefixes: list[str], now: datetime) -> dict[str, tuple[int, int]]:
    """Open and overdue events now, by region one level below the reach (always live; from
    the covering index event_open_figures_idx)."""
    rows = (
        _located(Event.objects.filter(state__in=OPEN_STATES), prefixes)
        .annotate(k=Substr("grid_code", 1, child_length(prefixes)))
        .values("k")
        .annotate(n=Count("grid_code"), late=Count("grid_code", filter=Q(due_at__lt=now)))
        .order_by()
    )
    return {r["k"]: (r["n"], r["late"]) for r in rows}


def newest_urgent(prefixes: list[str], now: datetime, limit: int = 12) -> list[Event]:
    """The newest urgent reports of the last week (the wall's ticker)."""
    week = Event.objects.filter(
        urgency=Event.Urgency.URGENT, reported_at__gte=now - timedelta(days=7), reported_at__lte=now
    )
    return list(
        _located(week, prefixes)
        .select_related("category")
        .only("grid_code", "reported_at", "state", "category__name")
        .order_by("-reported_at")[:limit]
    )


def open_by_grid(user: Any, grid_codes: list[str]) -> dict[str, int]:
    """Open events in each of these grids (a page of the grid list), in the caller's scope."""
    rows = (
        scope.restrict(Event.objects.filter(state__in=OPEN_STATES), user, "list")
        .filter(grid_code__in=grid_codes)
        .values("grid_code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {r["grid_code"]: r["n"] for r in rows}


# Open events are drawn on the wall as counts per cell of about 200 m: no point is a person.
CELL = 500  # cells per degree


def open_cells(prefixes: list[str], limit: int = 3000) -> list[tuple[float, float, int]]:
    rows = (
        _located(Event.objects.filter(state__in=OPEN_STATES), prefixes)
        .annotate(
            y=Cast(F("lat") * CELL, IntegerField()),
            x=Cast(F("lon") * CELL, IntegerField()),
        )
        .values("y", "x")
        .annotate(n=Count("grid_code"))
        .order_by("-n")[:limit]
    )
    return [(r["y"] / CELL, r["x"] / CELL, r["n"]) for r in rows]


# ----------------------------------------------------------------------------- the board


# The board lists the latest first: the furthest past its deadline on top (the clock's order,
# read per state from the index on (state, due_at, reported_at)).
BOARD_ORDER = ["due_at", "reported_at"]


def board_groups(now: datetime) -> dict[str, Q]:
    """The supervision board's groups of open events (an event may be in several)."""
    return {
        "overdue": Q(supervision=Event.Supervision.RED) | Q(due_at__lt=now),
        "at_risk": Q(supervision=Event.Supervision.YELLOW) & ~Q(due_at__lt=now),
        "escalated": Q(escalation_count__gt=0),
        "pingpong": Q(return_count__gte=2),
        "urged": ~Q(urge_level=""),
    }


def board_counts(user: Any, f: Filters, now: datetime, region_len: int) -> list[dict[str, Any]]:
    """One pass over the open events in scope (per scope part, each from the covering index
    event_open_figures_idx): each group's count by region and assignee."""
    groups = board_groups(now)
    # Counting grid_code, not the id: the covering index holds it (the UUID id is in the table).
    counts = {name: Count("grid_code", filter=q) for name, q in groups.items()}
    base = filtered(Event.objects.filter(state__in=OPEN_STATES), f, now)
    return [
        row
        for part in scope.parts(base, user, "list")
        for row in part.annotate(region=Substr("grid_code", 1, region_len))
        .values("region", "assignee_kind", "assignee_unit_id")
        .annotate(total=Count("grid_code"), **counts)
        .order_by()
    ]


def urges_since(user: Any, since: datetime) -> dict[Any, int]:
    """Urges kept against each assignee since a time: by department id, or "grid" (grid
    workers) and "" (still with a centre), as the board's rows are keyed."""
    rows = (
        scope.restrict(Urge.objects.filter(urged_at__gte=since), user, "list")
        .values("assignee_kind", "assignee_unit_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    out: dict[Any, int] = {}
    for r in rows:
        key = r["assignee_unit_id"] if r["assignee_kind"] == "unit" else r["assignee_kind"]
        out[key] = out.get(key, 0) + r["n"]
    return out


def board_list(user: Any, group: str, f: Filters, now: datetime) -> WorkList:
    """One group's open events, read like a work list (state by state, sorted, paged). The
    states come from WorkList alone: a second condition on state (``state IN (…) AND state =
    …``) made PostgreSQL expect a handful of rows and sort thousands."""
    qs = filtered(scope.restrict(Event.objects.all(), user, "list"), f, now)
    qs = qs.filter(board_groups(now)[group]).select_related("category", "assignee_unit")
    return WorkList(qs, OPEN_STATES, BOARD_ORDER)


# ----------------------------------------------------------------------------- the map

MAP_LIMIT = 5000


def map_events(user: Any, f: Filters, states: list[str]) -> tuple[list[dict[str, Any]], int]:
    """The newest events for the map (at most MAP_LIMIT) and how many match in all."""
    qs = filtered(scope.restrict(Event.objects.filter(state__in=states), user, "map"), f)
    values = qs.order_by("-reported_at").values(
        "code", "lat", "lon", "state", "urgency", "title", "due_at"
    )
    rows = [dict(r) for r in values[: MAP_LIMIT + 1]]
    total = len(rows) if len(rows) <= MAP_LIMIT else qs.count()
    return rows[:MAP_LIMIT], total


def month_start(now: datetime) -> datetime:
    return day_start(local_day(now).replace(day=1))
