"""Reads of patrols and checkpoints, always through the caller's scope (``restrict``): a grid
worker reaches their own patrols, a centre or a leader those of their area's grids."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from gridgov.accounts.scope import code_range, prefixes_for, restrict
from gridgov.regions.models import Grid

from .models import CheckIn, Checkpoint, Patrol, PatrolGrid, PatrolPoint

UNPATROLLED_LIMIT = 500
CHECKPOINT_LIMIT = 5000  # a city's checkpoints for one answer; narrow with a region code


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def patrol_key(patrol_id: Any) -> uuid.UUID | None:
    """A patrol id as a UUID, or None (a malformed id is as unknown as a missing one)."""
    if isinstance(patrol_id, uuid.UUID):
        return patrol_id
    try:
        return uuid.UUID(str(patrol_id)[:64])
    except ValueError:
        return None


def on_day(day: date) -> Q:
    """Patrols that started on ``day`` or walked through a grid on it (local days)."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    touched = PatrolGrid.objects.filter(day=day).values("patrol_id")
    return Q(started_at__gte=start, started_at__lt=end) | Q(pk__in=touched)


def patrols(
    user: Any, action: str = "list", *, mine: bool = False, day: date | None = None
) -> QuerySet[Patrol]:
    qs = restrict(Patrol.objects.all(), user, action).select_related("worker")
    if mine:
        qs = qs.filter(worker_id=user.pk)
    if day is not None:
        qs = qs.filter(on_day(day))
    return qs.order_by("-started_at", "pk")


def with_details(qs: QuerySet[Patrol]) -> QuerySet[Patrol]:
    """Patrols with what their answer lists: the grids touched and the check-ins."""
    checkins = CheckIn.objects.select_related("checkpoint").order_by("at", "pk")
    return qs.prefetch_related(
        Prefetch("checkins", queryset=checkins), Prefetch("grids", PatrolGrid.objects.all())
    )


def patrol(user: Any, patrol_id: Any, action: str = "view") -> Patrol | None:
    """One patrol if ``user`` may ``action`` it (else None → 404)."""
    key = patrol_key(patrol_id)
    if key is None:
        return None
    return with_details(patrols(user, action)).filter(pk=key).first()


def own_patrol(user: Any, patrol_id: Any) -> QuerySet[Patrol]:
    """The caller's own patrol, while their posts still reach it (to change it)."""
    key = patrol_key(patrol_id)
    if key is None or user is None or user.pk is None:
        return Patrol.objects.none()
    return restrict(Patrol.objects.filter(pk=key, worker_id=user.pk), user, "view")


def track(p: Patrol) -> list[tuple[float, float, datetime]]:
    """The patrol's points in time order: (lon, lat, at)."""
    rows = PatrolPoint.objects.filter(patrol=p).order_by("at").values_list("lon", "lat", "at")
    return list(rows)


def tracks(patrol_ids: list[Any]) -> dict[Any, list[tuple[float, float, datetime]]]:
    """Several patrols' points, each in time order, in one read."""
    out: dict[Any, list[tuple[float, float, datetime]]] = {pk: [] for pk in patrol_ids}
    rows = (
        PatrolPoint.objects.filter(patrol_id__in=patrol_ids)
        .order_by("patrol_id", "at")
        .values_list("patrol_id", "lon", "lat", "at")
    )
    for pk, lon, lat, at in rows.iterator(chunk_size=5000):
        out[pk].append((lon, lat, at))
    return out


def checkpoints(user: Any, action: str = "list", *, under: str = "") -> QuerySet[Checkpoint]:
    """The active checkpoints in the caller's reach (a grid worker: the grids of their posts)."""
    qs = restrict(Checkpoint.objects.filter(active=True), user, action)
    if under:
        qs = qs.filter(code_range("grid_code", under))
    return qs.order_by("grid_code", "name", "pk")


def checkpoint(user: Any, checkpoint_id: int) -> Checkpoint | None:
    return checkpoints(user, "view").filter(pk=checkpoint_id).first()


def unpatrolled(
    user: Any, day: date, limit: int = UNPATROLLED_LIMIT
) -> tuple[list[dict[str, Any]], int]:
    """The current grids in the caller's patrol reach that no patrol walked through on ``day``:
    the first ``limit`` by code, and how many there are in all."""
    reach = prefixes_for(user, "patrol", "list")
    if not reach:
        return [], 0
    inside = Q(pk__in=[])
    for prefix in reach:
        inside |= code_range("code", prefix)
    grids = restrict(Grid.objects.filter(effective_to__isnull=True), user, "list").filter(inside)
    walked = restrict(PatrolGrid.objects.filter(day=day), user, "list").values("grid_code")
    qs = grids.exclude(code__in=walked).order_by("code")
    rows: list[dict[str, Any]] = [dict(r) for r in qs.values("code", "name", "kind")[:limit]]
    total = len(rows) if len(rows) < limit else qs.count()
    return rows, total
