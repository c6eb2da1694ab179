"""Figures for the leader wall and the supervision board, with names for people to read.
The wall carries no personal data: counts, categories, places at the level of a region or a
200 m cell, never a title, a name, a phone number or an exact point."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from gridgov.events.models import Category, Event
from gridgov.events.queries import Filters
from gridgov.events.states import STATE_LABELS, State
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Region

from . import queries
from .queries import Period


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def region_names(codes: set[str]) -> dict[str, str]:
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name"))


def wall(prefixes: list[str], now: datetime) -> dict[str, Any]:
    period = Period.at(now)
    regions = queries.flows(prefixes, now, period, "region")
    categories = queries.flows(prefixes, now, period, "category")
    channels = queries.flows(prefixes, now, period, "channel")
    trend = queries.trend(prefixes, now, period)
    open_now = queries.open_by_region(prefixes, now)
    month = [sum(v[i] for v in regions.values()) for i in range(3)]
    names = region_names(set(regions) | set(open_now) | set(prefixes))
    top = dict(Category.objects.filter(parent__isnull=True).values_list("code", "name"))
    channel_names = dict(Event.Channel.choices)
    return {
        "at": timezone.localtime(now).isoformat(),
        "scope": "、".join(names.get(p, p) for p in prefixes),
        "kpi": {
            "today_reported": trend["reported"][-1],
            "today_closed": trend["closed"][-1],
            "month_reported": month[0],
            "month_closed": month[1],
            "open": sum(n for n, _late in open_now.values()),
            "overdue": sum(late for _n, late in open_now.values()),
            "closure_rate": _rate(month[1], month[0]),
            "on_time_rate": _rate(month[2], month[1]),
        },
        "trend": trend,
        "by_category": sorted(
            (
                {"name": top.get(k, _("unclassified")), "value": v[0]}
                for k, v in categories.items()
                if v[0]
            ),
            key=lambda r: -int(r["value"]),
        ),
        "by_channel": [
            {"name": str(channel_names.get(k, k)), "value": v[0]}
            for k, v in sorted(channels.items())
            if v[0]
        ],
        "by_region": _regions(regions, open_now, names),
        "urgent": [_urgent(e, names) for e in queries.newest_urgent(prefixes, now)],
        "cells": queries.open_cells(prefixes),
    }


def _regions(
    flows: dict[str, list[int]], open_now: dict[str, tuple[int, int]], names: dict[str, str]
) -> list[dict[str, Any]]:
    rows = []
    for code in sorted(set(flows) | set(open_now)):
        reported, closed, on_time = flows.get(code, [0, 0, 0])
        n_open, late = open_now.get(code, (0, 0))
        rows.append(
            {
                "code": code,
                "name": names.get(code, code),
                "reported": reported,
                "closed": closed,
                "open": n_open,
                "overdue": late,
                "on_time_rate": _rate(on_time, closed),
            }
        )
    return sorted(rows, key=lambda r: (-(r["on_time_rate"] or 0), r["code"]))


def _urgent(e: Event, names: dict[str, str]) -> dict[str, Any]:
    township = e.grid_code[: queries.TOWNSHIP_LEN]
    if township not in names:
        names.update(region_names({township}))
    return {
        "category": e.category.name if e.category_id and e.category else _("unclassified"),
        "region": names.get(township, township),
        "at": formats.date_format(timezone.localtime(e.reported_at), "m-d H:i"),
        "state": str(STATE_LABELS[State(e.state)]),
    }


# ----------------------------------------------------------------------------- the board

BOARD_LABELS = {
    "overdue": _("Overdue"),
    "at_risk": _("At risk"),
    "escalated": _("Escalated"),
    "pingpong": _("Returned repeatedly"),
    "urged": _("Urged / supervised"),
}


def board(user: Any, f: Filters, now: datetime, region_len: int) -> dict[str, Any]:
    """The board's two tables: each group's count by region and by department (grid workers
    and centres as one row each), with the urges kept against each this month."""
    rows = queries.board_counts(user, f, now, region_len)
    groups = list(queries.board_groups(now))
    by_region: dict[str, dict[str, int]] = {}
    by_unit: dict[Any, dict[str, int]] = {}
    for r in rows:  # a region and assignee may come once per scope part: add them up
        unit = r["assignee_unit_id"] if r["assignee_kind"] == "unit" else r["assignee_kind"]
        for table, key in ((by_region, r["region"]), (by_unit, unit)):
            acc = table.setdefault(key, dict.fromkeys(["total", *groups], 0))
            for g in ["total", *groups]:
                acc[g] += r[g]
    urges = queries.urges_since(user, queries.month_start(now))
    units = dict(
        OrgUnit.objects.filter(pk__in=[k for k in by_unit if isinstance(k, int)]).values_list(
            "pk", "name"
        )
    )
    names = region_names(set(by_region))
    return {
        "groups": [(g, BOARD_LABELS[g], sum(v[g] for v in by_region.values())) for g in groups],
        "regions": [
            {"code": k, "name": names.get(k, k), "total": v["total"], "counts": _in(v, groups)}
            for k, v in sorted(by_region.items())
        ],
        "units": sorted(
            (
                {
                    "kind": "unit" if isinstance(k, int) else (k or "centre"),
                    "name": _unit_name(k, units),
                    "urges": urges.get(k, 0),
                    "total": v["total"],
                    "counts": _in(v, groups),
                }
                for k, v in by_unit.items()
            ),
            key=lambda r: (-r["counts"][0], -r["urges"], r["name"]),
        ),
    }


def _in(counts: dict[str, int], groups: list[str]) -> list[int]:
    return [counts[g] for g in groups]


def _unit_name(key: Any, units: dict[int, str]) -> str:
    if key == "grid":
        return _("grid workers")
    if isinstance(key, int):
        return units.get(key, str(key))
    return _("centre (not dispatched)")
