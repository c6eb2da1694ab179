"""Reads of events, always through the caller's scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from gridgov.accounts.scope import code_range, restrict

from .models import Event


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


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else ("*" * len(phone))


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""
