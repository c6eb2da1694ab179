"""What a child tells its parent, and queueing it in the outbox with the change.

An event travels as a description of the case, never of people: codes (case, category, grid,
region, units), state, urgency, deadlines, step timestamps, supervision and counters, and its
place rounded to 0.001° (about 100 m, as on the square map). Never the reporter (name, phone,
openid, secret), the actors, the title, description, address, notes or comments: free text
carries personal data.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db.models import Sum

from gridgov.analytics.models import DailyStat
from gridgov.core import outbox
from gridgov.core.models import Outbox
from gridgov.events.models import Event

CREATED, CHANGED, STATS = "event.created", "event.changed", "stats.daily"
KINDS = (CREATED, CHANGED, STATS)
RECIPIENT = "parent"
# A change the parent hears of: any of these columns moved (the state, the route, the clock,
# supervision, the result). Flags and counters alone (an urge, a reply) ride with the next.
WATCHED = (
    "state",
    "category_id",
    "urgency",
    "grid_code",
    "handling_level",
    "receiving_centre_id",
    "assignee_kind",
    "assignee_unit_id",
    "assignee_grid",
    "due_at",
    "supervision",
    "urge_level",
    "parent_id",
    "satisfaction",
    "closed_on_time",
)
_TIMES = (
    "reported_at",
    "registered_at",
    "dispatched_at",
    "signed_at",
    "result_at",
    "closed_at",
    "revisited_at",
    "archived_at",
    "due_at",
)
_COUNTS = (
    "overdue_count",
    "urge_count",
    "escalation_count",
    "rework_count",
    "return_count",
    "merged_count",
    "extension_count",
)


def enabled() -> bool:
    return bool(settings.EXCHANGE_PARENT_URL)


def item_id(key: str) -> uuid.UUID:
    """The id ``outbox.enqueue`` gives the item queued under ``key``."""
    return uuid.uuid5(uuid.NAMESPACE_URL, key)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe(e: Event) -> dict[str, Any]:
    """The event as the parent may know it."""
    category = e.category
    unit = e.assignee_unit
    return {
        "id": str(e.pk),
        "code": e.code,
        "version": e.version,
        "channel": e.channel,
        "category": category.code if category else "",
        "category_name": category.name if category else "",
        "sensitive": bool(category and category.sensitive),
        "urgency": e.urgency,
        "state": e.state,
        "grid": e.grid_code,
        "village": e.grid_code[:12],
        "township": e.grid_code[:9],
        "county": e.county_code,
        "area_type": e.area_type,
        "lon": round(e.lon, 3),  # WGS-84, about 100 m
        "lat": round(e.lat, 3),
        "location_uncertain": e.location_uncertain,
        "handling_level": e.handling_level,
        "receiving_centre": e.receiving_centre.code,
        "assignee": {
            "kind": e.assignee_kind,
            "unit": unit.code if unit else "",
            "grid": e.assignee_grid,
        },
        "step": e.step,
        "supervision": e.supervision,
        "urge_level": e.urge_level,
        "merged_into": e.parent.code if e.parent_id and e.parent else "",
        "resolved_on_spot": e.resolved_on_spot,
        "closed_on_time": e.closed_on_time,
        "satisfaction": e.satisfaction,
        "rating": e.rating,  # the reporter's 满意/基本满意/不满意, without their comment
        "counts": {name.removesuffix("_count"): getattr(e, name) for name in _COUNTS},
        "times": {name.removesuffix("_at"): _iso(getattr(e, name)) for name in _TIMES},
    }


def moved(before: dict[str, Any], e: Event) -> bool:
    return any(before.get(name) != getattr(e, name) for name in WATCHED)


def _queue(kind: str, key: str, payload: dict[str, Any]) -> Outbox:
    return outbox.enqueue(
        kind, RECIPIENT, payload, channel=Outbox.Channel.EXCHANGE, key=f"exchange:{key}"
    )


def queue_created(e: Event) -> Outbox:
    return _queue(CREATED, f"{e.pk}:1", {"event": describe(e)})


def queue_changed(e: Event, action: str, before: dict[str, Any], at: datetime) -> Outbox:
    change = {"action": action, "from": before.get("state"), "to": e.state, "at": at.isoformat()}
    return _queue(CHANGED, f"{e.pk}:{e.version}", {"event": describe(e), "change": change})


def stats_key(day: date) -> str:
    return f"{settings.EXCHANGE_NODE}:stats:{day.isoformat()}"


def daily_stats(day: date) -> dict[str, Any]:
    """One day's figures from analytics.DailyStat, per township, top category and channel."""
    rows = DailyStat.objects.filter(day=day).order_by("township", "category", "channel")
    totals = rows.aggregate(
        reported=Sum("reported"), closed=Sum("closed"), closed_on_time=Sum("closed_on_time")
    )
    return {
        "day": day.isoformat(),
        "rows": [
            {
                "township": r.township,
                "category": r.category,
                "channel": r.channel,
                "reported": r.reported,
                "closed": r.closed,
                "closed_on_time": r.closed_on_time,
            }
            for r in rows
        ],
        "totals": {k: v or 0 for k, v in totals.items()},
    }


def queue_stats(day: date) -> Outbox:
    return _queue(STATS, stats_key(day), daily_stats(day))


# Yesterday's figures are sent after this local time, when reports filed just before midnight
# have long been committed.
STATS_AFTER = time(0, 10)
