"""Reads for Open311: keys, services, and the requests a client may see.

A request the calling client filed is its own: it sees what it sent. Any other request is
seen only if the square map shows it (events/public.py), and only as the square map shows it
(presenters.py). A request in a sensitive category is seen by nobody here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from gridgov.core.crypto import secret_digest
from gridgov.events import public as square
from gridgov.events.models import Category, Event
from gridgov.events.queries import CASE_NUMBER

from .models import ApiKey, ServiceRequest

MAX_ROWS = 1000  # the spec's limit on one GET requests
CLOSED_STATES = frozenset({"closed", "archived", "rejected", "merged", "cancelled"})
KEY_MAX = 100


def key(raw: str) -> ApiKey | None:
    """The live key whose digest matches ``raw``."""
    if not raw or len(raw) > KEY_MAX:
        return None
    return ApiKey.objects.filter(digest=secret_digest(raw), revoked_at__isnull=True).first()


def api_keys() -> QuerySet[ApiKey]:
    return ApiKey.objects.order_by("client", "created_at")


def services() -> QuerySet[Category]:
    """What clients may report: active sub-classes the square map may show (a sensitive
    category, a dispute say, is never offered to a third party's app)."""
    return (
        Category.objects.filter(active=True, parent__isnull=False, public=True, sensitive=False)
        .select_related("parent")
        .order_by("code")
    )


def service(code: str) -> Category | None:
    return services().filter(code=code).first()


def token(value: str) -> ServiceRequest | None:
    return ServiceRequest.objects.select_related("event").filter(token=value).first()


@dataclass(frozen=True)
class Filters:
    ids: list[str] = field(default_factory=list)  # overrides every other filter (the spec)
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Found:
    event: Event
    own: ServiceRequest | None  # the caller filed it


def status(e: Event) -> str:
    return "closed" if e.state in CLOSED_STATES else "open"


def _mine(client: str) -> Q:
    filed = ServiceRequest.objects.filter(client=client).values("event_id")
    return Q(pk__in=filed) & (Q(category__isnull=True) | Q(category__sensitive=False))


def _visible(client: str) -> Q:
    return square.on_square() | _mine(client) if client else square.on_square()


def _by_ids(ids: list[str], client: str) -> Q:
    """Case numbers address the caller's own requests only; the square map's requests go by
    their UUID (a case number would let a stranger follow them on the citizens' pages)."""
    uuids, codes = [], []
    for value in ids:
        try:
            uuids.append(uuid.UUID(value))
        except ValueError:
            if CASE_NUMBER.fullmatch(value):
                codes.append(value)
    found = Q(pk__in=uuids)
    if client and codes:
        found |= Q(code__in=codes) & _mine(client)
    return found


def requests(client: str, f: Filters) -> list[Found]:
    """At most MAX_ROWS requests, newest first."""
    qs = Event.objects.filter(_visible(client))
    if f.ids:
        qs = qs.filter(_by_ids(f.ids, client))
    else:
        if f.service_codes:
            qs = qs.filter(category__code__in=f.service_codes)
        if f.start:
            qs = qs.filter(reported_at__gte=f.start)
        if f.end:
            qs = qs.filter(reported_at__lte=f.end)
        if set(f.statuses) == {"open"}:
            qs = qs.exclude(state__in=CLOSED_STATES)
        elif set(f.statuses) == {"closed"}:
            qs = qs.filter(state__in=CLOSED_STATES)
    rows = list(
        qs.select_related("category", "receiving_centre", "assignee_unit").order_by(
            "-reported_at", "code"
        )[:MAX_ROWS]
    )
    own = _own_rows(client, [e.pk for e in rows])
    return [Found(e, own.get(e.pk)) for e in rows]


def _own_rows(client: str, pks: list[uuid.UUID]) -> dict[uuid.UUID, ServiceRequest]:
    if not client or not pks:
        return {}
    found = ServiceRequest.objects.filter(client=client, event_id__in=pks)
    return {r.event_id: r for r in found}
