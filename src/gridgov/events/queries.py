"""Reads of events, always through the caller's scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.scope import code_range, restrict

from .models import Event, TimelineEntry
from .states import State

S = State

# The work lists' tabs: which states each holds (the console's queue and the handlers' inbox).
QUEUE_TABS: dict[str, tuple[Any, tuple[State, ...]]] = {
    "intake": (_("To accept"), (S.REPORTED, S.VERIFYING)),
    "dispatch": (_("To dispatch"), (S.REGISTERED, S.RETURNED)),
    "handling": (_("Being handled"), (S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED)),
    "check": (_("To check"), (S.AWAITING_CHECK,)),
    "closed": (_("Closed"), (S.CLOSED, S.ARCHIVED)),
}
INBOX_TABS: dict[str, tuple[Any, tuple[State, ...]]] = {
    "sign": (_("To sign for"), (S.DISPATCHED,)),
    "handle": (_("To handle"), (S.IN_PROGRESS, S.SUSPENDED)),
    "check": (_("To verify or check"), (S.VERIFYING, S.AWAITING_CHECK)),
    "done": (_("Handled"), (S.RETURNED, S.CLOSED, S.ARCHIVED)),
}


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


@dataclass(frozen=True)
class Filters:
    """A work list's filters, each optional (already validated by the page's form)."""

    category: str = ""
    channel: str = ""
    under: str = ""  # a region or grid code: everything inside it
    urgency: str = ""
    overdue: bool = False
    supervised: bool = False
    since: date | None = None
    until: date | None = None
    q: str = ""


def _day_start(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min))


def filtered(qs: QuerySet[Event], f: Filters, now: datetime | None = None) -> QuerySet[Event]:
    if f.category:
        qs = qs.filter(category__code__startswith=f.category)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.under:
        qs = qs.filter(code_range("grid_code", f.under))
    if f.urgency:
        qs = qs.filter(urgency=f.urgency)
    if f.overdue:
        qs = qs.filter(due_at__lt=now or timezone.now())
    if f.supervised:
        qs = qs.exclude(supervision="")
    if f.since:
        qs = qs.filter(reported_at__gte=_day_start(f.since))
    if f.until:
        qs = qs.filter(reported_at__lt=_day_start(f.until + timedelta(days=1)))
    if f.q:
        qs = qs.filter(
            Q(code=f.q)
            | Q(title__contains=f.q)
            | Q(description__contains=f.q)
            | Q(address__contains=f.q)
        )
    return qs


def work_list(
    user: Any, tabs: dict[str, tuple[Any, tuple[State, ...]]], tab: str, f: Filters
) -> QuerySet[Event]:
    """One tab of a work list in the caller's scope: most urgent first, then the soonest due
    (an overdue step is the soonest), then the oldest report."""
    states = [s.value for s in tabs[tab][1]]
    qs = filtered(restrict(Event.objects.all(), user, "list"), f).filter(state__in=states)
    # "urgent" sorts after "normal": descending puts urgent work on top.
    order = ["-urgency", "due_at", "reported_at"] if tab not in ("closed", "done") else []
    return qs.select_related("category", "assignee_unit").order_by(*(order or ["-reported_at"]))


def tab_counts(
    user: Any, tabs: dict[str, tuple[Any, tuple[State, ...]]], f: Filters
) -> dict[str, int]:
    """How many events each tab holds, under the same scope and filters, in one query."""
    per_state = dict(
        filtered(restrict(Event.objects.all(), user, "list"), f)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return {
        tab: sum(per_state.get(s.value, 0) for s in states) for tab, (_, states) in tabs.items()
    }


def latest_change() -> int:
    """The newest timeline row's id: the cursor consoles poll with (one index lookup)."""
    return TimelineEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def changes_since(user: Any, cursor: int, limit: int = 200) -> list[TimelineEntry]:
    """Timeline rows after ``cursor`` on events the caller may see (newest last)."""
    rows = timeline(user, "list").filter(id__gt=cursor).select_related("event")
    return list(rows.order_by("id")[:limit])
