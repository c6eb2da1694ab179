"""Reads of events, always through the caller's scope."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from gridgov.accounts.scope import code_range, restrict

from .models import Event, TimelineEntry


def events(
    user: Any,
    action: str = "list",
    *,
    state: str = "",
    category: str = "",
    under: str = "",
    supervision: str = "",
    q: str = "",
) -> QuerySet[Event]:
    qs = restrict(Event.objects.all(), user, action).select_related(
        "category", "receiving_centre", "assignee_unit"
    )
    if state:
        qs = qs.filter(state__in=state.split(","))
    if category:
        qs = qs.filter(category__code__startswith=category)
    if under:
        qs = qs.filter(code_range("grid_code", under))
    if supervision:
        qs = qs.filter(supervision=supervision)
    if q:
        qs = qs.filter(Q(title__contains=q) | Q(code=q) | Q(address__contains=q))
    return qs.order_by("-reported_at")


def event(user: Any, event_id: Any, action: str = "view") -> Event | None:
    """One event by UUID or case number, if ``user`` may ``action`` it (else None → 404)."""
    qs = restrict(Event.objects.all(), user, action).select_related(
        "category", "receiving_centre", "assignee_unit", "parent"
    )
    return qs.filter(**event_key(event_id)).first()


def timeline(user: Any, action: str = "view") -> QuerySet[TimelineEntry]:
    """Timeline entries, scoped like their events: only those of events ``user`` may see."""
    visible = restrict(Event.objects.all(), user, action).values("pk")
    return TimelineEntry.objects.filter(event__in=visible)


def event_any(event_id: Any) -> Event | None:
    """One event whoever asks: for the reporter (by the receipt's secret) and the platform."""
    qs = Event.objects.select_related("category", "receiving_centre", "assignee_unit", "parent")
    return qs.filter(**event_key(event_id)).first()


def visible_codes(user: Any, codes: list[str]) -> list[str]:
    """The case numbers among ``codes`` that ``user`` may see (none for the public)."""
    if not codes or user is None:
        return []
    seen = set(
        restrict(Event.objects.filter(code__in=codes), user, "view").values_list("code", flat=True)
    )
    return [c for c in codes if c in seen]


def event_key(event_id: Any) -> dict[str, Any]:
    """Events are addressed by UUID or by case number."""
    if isinstance(event_id, uuid.UUID):
        return {"pk": event_id}
    try:
        return {"pk": uuid.UUID(str(event_id))}
    except ValueError:
        return {"code": str(event_id)[:24]}
