"""Reads of regions and grids; every function takes the caller and goes through restrict()."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from gridgov.core.codes import code_range
from gridgov.core.scope import restrict

from .models import Grid, Region


def regions(
    user: Any, action: str = "list", *, level: int | None = None, under: str = "", q: str = ""
) -> QuerySet[Region]:
    qs = restrict(Region.objects.all(), user, action)
    if level is not None:
        qs = qs.filter(level=level)
    if under:
        qs = qs.filter(code_range("code", under))
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(code__startswith=q))
    return qs.order_by("code")


def grids(
    user: Any,
    action: str = "list",
    *,
    under: str = "",
    kind: str = "",
    q: str = "",
    current: bool = True,
) -> QuerySet[Grid]:
    qs = restrict(Grid.objects.all(), user, action)
    if current:
        qs = qs.filter(effective_to__isnull=True)
    if under:
        qs = qs.filter(code_range("code", under))
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(code__startswith=q))
    return qs.order_by("code")


def grid_stats(user: Any, under: str = "") -> dict[str, int]:
    qs = grids(user, "stats", under=under)
    agg = qs.aggregate(
        grids=Count("id"),
        base=Count("id", filter=Q(kind=Grid.Kind.BASE)),
        dedicated=Count("id", filter=Q(kind=Grid.Kind.DEDICATED)),
        population=Sum("population", filter=Q(kind=Grid.Kind.BASE)),
        households=Sum("households", filter=Q(kind=Grid.Kind.BASE)),
        villages=Count("village_id", distinct=True),
    )
    return {k: int(v or 0) for k, v in agg.items()}
