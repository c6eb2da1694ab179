"""Patrol actions: start, send track points, check in at a checkpoint, end. The only code that
changes patrols; each action writes its audit row in the same transaction.

Phones work offline and send late, so every send is idempotent: a patrol and a check-in carry
the id the phone chose (the same id again answers the same; another account's id is 409), a
batch of points carries a client id (``core.idempotency``: a replay stores nothing new), and a
point already stored for the same moment is not stored twice. Times are the phone's: accepted
up to ``MAX_AGE`` old, refused when more than ``MAX_AHEAD`` in the future.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from gridgov.accounts.roles import allowed
from gridgov.accounts.scope import active_posts
from gridgov.core import audit, idempotency
from gridgov.core.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from gridgov.core.text import control_errors
from gridgov.geo.crs import distance_m
from gridgov.regions.locator import get_locator
from gridgov.regions.models import Grid

from . import queries, track
from .models import CheckIn, Patrol, PatrolGrid, PatrolPoint

MAX_AGE = timedelta(days=7)
MAX_AHEAD = timedelta(minutes=5)
# Points and check-ins may precede the start a little (the phone fixed its position first).
BEFORE_START = timedelta(minutes=10)
MAX_POINTS = 500
MAX_ACCURACY_M = 100_000.0
# A check-in counts as at the place within its radius plus the phone's stated accuracy, but
# never more than this allowance (a fix "accurate to 3 km" would otherwise be everywhere).
ACCURACY_ALLOWANCE_M = 100.0
OP_POINTS = "patrol.points"

ENDED = "this patrol has ended: start a new one to go on"
NOT_GRID_STAFF = "only grid workers and grid leaders with an active post may patrol"


@dataclass(frozen=True)
class Fix:
    """A position the phone took: when (the phone's clock), where (WGS-84), how accurately."""

    at: datetime
    lon: float
    lat: float
    accuracy_m: float | None = None

    def key(self) -> list[Any]:
        return [self.at.isoformat(), self.lon, self.lat, self.accuracy_m]


# ----------------------------------------------------------------------------- checks


def _time_errors(field: str, value: datetime, now: datetime) -> dict[str, str]:
    if timezone.is_naive(value):
        return {field: "a time with its UTC offset, e.g. 2026-05-01T08:30:00+08:00"}
    if value > now + MAX_AHEAD:
        return {field: "lies in the future: check the phone's clock"}
    if value < now - MAX_AGE:
        return {field: f"is more than {MAX_AGE.days} days old"}
    return {}


def _number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and low <= value <= high


def _accuracy_errors(field: str, accuracy_m: Any) -> dict[str, str]:
    if accuracy_m is None or _number(accuracy_m, 0, MAX_ACCURACY_M):
        return {}
    return {field: f"metres, 0 to {MAX_ACCURACY_M:,.0f}"}


def _place_errors(prefix: str, lon: Any, lat: Any, accuracy_m: Any = None) -> dict[str, str]:
    errors = _accuracy_errors(f"{prefix}accuracy_m", accuracy_m)
    if not _number(lon, -180, 180):
        errors[f"{prefix}lon"] = "a longitude in degrees (WGS-84)"
    if not _number(lat, -90, 90):
        errors[f"{prefix}lat"] = "a latitude in degrees (WGS-84)"
    return errors


def _fix_errors(prefix: str, fix: Fix, now: datetime, earliest: datetime | None) -> dict[str, str]:
    errors = _time_errors(f"{prefix}at", fix.at, now)
    if not errors and earliest is not None and fix.at < earliest - BEFORE_START:
        errors[f"{prefix}at"] = "before the patrol started"
    return {**errors, **_place_errors(prefix, fix.lon, fix.lat, fix.accuracy_m)}


def _optional_place(lon: float | None, lat: float | None) -> dict[str, str]:
    if (lon is None) != (lat is None):
        return {"lat" if lat is None else "lon": "give both lon and lat, or neither"}
    return _place_errors("", lon, lat) if lon is not None else {}


def _patrol_posts(actor: Any) -> list[Any]:
    return [p for p in active_posts(actor) if allowed("patrol", p.role, "start")]


# ----------------------------------------------------------------------------- location


def _grid_for(actor: Any, lon: float | None, lat: float | None) -> str:
    """The grid a patrol belongs to: the grid of one of the worker's posts that the start point
    lies in, else the worker's first grid post (the first grid of a grid leader's village) —
    always inside the worker's reach, so the worker can see their own patrol."""
    posts = _patrol_posts(actor)
    if not posts:
        raise Forbidden(NOT_GRID_STAFF)
    if lon is not None and lat is not None:
        loc = get_locator()
        found = loc.locate(lon, lat)
        covering = loc.covering_many(np.array([lon]), np.array([lat]))[0]
        ranked = ([found.code] if found and found.inside else []) + sorted(covering)
        for code in ranked:
            if any(code.startswith(p.scope_code) for p in posts):
                return code
    for post in posts:
        if len(post.scope_code) == 15:
            return str(post.scope_code)
        first = (
            Grid.objects.filter(effective_to__isnull=True, code__startswith=post.scope_code)
            .order_by("code")
            .values_list("code", flat=True)
            .first()
        )
        if first:
            return first
    raise Invalid({"grid": "none of your posts has a grid"})


@dataclass(frozen=True)
class Located:
    fix: Fix
    grid_code: str  # the grid the point is in ("" outside every grid)
    touched: frozenset[str]  # every grid it lies in (a dedicated grid and the base grid)


def _locate(fixes: Sequence[Fix]) -> list[Located]:
    if not fixes:
        return []
    loc = get_locator()
    lons = np.array([f.lon for f in fixes], dtype=float)
    lats = np.array([f.lat for f in fixes], dtype=float)
    winners = loc.locate_many(lons, lats)
    covering = loc.covering_many(lons, lats)
    return [
        Located(f, code or "", frozenset(cover))
        for f, code, cover in zip(fixes, winners, covering, strict=True)
    ]


# ----------------------------------------------------------------------------- storing


def _touch(patrol: Patrol, pairs: Iterable[tuple[str, date]]) -> None:
    """Record the (grid, day) pairs the patrol walked through, once each."""
    wanted = set(pairs)
    if not wanted:
        return
    have = set(PatrolGrid.objects.filter(patrol=patrol).values_list("grid_code", "day"))
    PatrolGrid.objects.bulk_create(
        PatrolGrid(patrol=patrol, worker_id=patrol.worker_id, grid_code=code, day=day)
        for code, day in sorted(wanted - have)
    )


def _counted() -> Q:
    return Q(accuracy_m__isnull=True) | Q(accuracy_m__lte=track.COUNTED_ACCURACY_M)


def _store_points(patrol: Patrol, located: list[Located]) -> int:
    """Store the points not yet stored for their moment; keep the count, the distance and the
    grids touched. Runs with the patrol's row locked. Returns how many were new."""
    seen: set[datetime] = set()
    unique = []
    for p in located:
        if p.fix.at not in seen:
            seen.add(p.fix.at)
            unique.append(p)
    stored = set(
        PatrolPoint.objects.filter(patrol=patrol, at__in=list(seen)).values_list("at", flat=True)
    )
    new = [p for p in unique if p.fix.at not in stored]
    if not new:
        return 0
    counted = sorted((p for p in new if track.counts(p.fix.accuracy_m)), key=lambda p: p.fix.at)
    last = (
        PatrolPoint.objects.filter(patrol=patrol)
        .filter(_counted())
        .order_by("-at")
        .values_list("at", "lon", "lat")
        .first()
    )
    PatrolPoint.objects.bulk_create(
        PatrolPoint(
            patrol=patrol,
            at=p.fix.at,
            lon=p.fix.lon,
            lat=p.fix.lat,
            accuracy_m=p.fix.accuracy_m,
            grid_code=p.grid_code,
        )
        for p in new
    )
    if counted and (last is None or counted[0].fix.at >= last[0]):
        lons = ([last[1]] if last else []) + [p.fix.lon for p in counted]
        lats = ([last[2]] if last else []) + [p.fix.lat for p in counted]
        patrol.distance_m += track.length_m(lons, lats)
    elif counted:  # a late batch from earlier in the walk: measure the whole track again
        rows = PatrolPoint.objects.filter(patrol=patrol).filter(_counted()).order_by("at")
        walk = list(rows.values_list("lon", "lat"))
        patrol.distance_m = track.length_m([w[0] for w in walk], [w[1] for w in walk])
    patrol.point_count += len(new)
    patrol.save(update_fields=["point_count", "distance_m"])
    _touch(patrol, ((code, queries.local_day(p.fix.at)) for p in counted for code in p.touched))
    return len(new)


def _locked(actor: Any, patrol_id: Any) -> Patrol:
    found = queries.own_patrol(actor, patrol_id).select_for_update().first()
    if found is None:
        raise NotFound()
    return found


def _own(actor: Any, patrol_id: Any) -> Patrol:
    found = queries.own_patrol(actor, patrol_id).first()
    if found is None:
        raise NotFound()
    return found


# ----------------------------------------------------------------------------- actions


def do_start_patrol(
    actor: Any,
    patrol_id: uuid.UUID,
    started_at: datetime,
    lon: float | None = None,
    lat: float | None = None,
    accuracy_m: float | None = None,
) -> Patrol:
    """Start a patrol under the phone's id. The same id again by the same worker answers the
    patrol as it is now; another account's id is 409."""
    if not _patrol_posts(actor):
        raise Forbidden(NOT_GRID_STAFF)
    existing = Patrol.objects.filter(pk=patrol_id).first()
    if existing is not None:
        return _replayed_start(actor, existing, started_at)
    now = timezone.now()
    errors = {**_time_errors("started_at", started_at, now), **_optional_place(lon, lat)}
    errors.update(_accuracy_errors("accuracy_m", accuracy_m))
    if errors:
        raise Invalid(errors)
    grid = _grid_for(actor, lon, lat)
    start = [Fix(started_at, lon, lat, accuracy_m)] if lon is not None and lat is not None else []
    located = _locate(start)
    try:
        with transaction.atomic():
            patrol = Patrol.objects.create(
                id=patrol_id, worker=actor, grid_code=grid, started_at=started_at, received_at=now
            )
            _store_points(patrol, located)
            audit.record(
                "patrol.start",
                actor=actor,
                obj=patrol,
                detail={"grid": grid, "started_at": started_at.isoformat()},
            )
    except IntegrityError:  # the same id, sent twice at the same moment
        existing = Patrol.objects.filter(pk=patrol_id).first()
        if existing is None:
            raise
        return _replayed_start(actor, existing, started_at)
    return patrol


def _replayed_start(actor: Any, existing: Patrol, started_at: datetime) -> Patrol:
    if existing.worker_id != actor.pk:
        raise Conflict("this patrol id is already used", "id")
    if existing.started_at != started_at:
        raise Conflict("this patrol was started at another time", "started_at")
    return _own(actor, existing.pk)


def do_add_points(
    actor: Any, patrol_id: Any, client_id: str, fixes: Sequence[Fix]
) -> dict[str, int]:
    """Add a batch of track points. A replay of the same client id answers what the first
    send was answered and stores nothing; the same id with other points is 409."""
    key = idempotency.check_key(client_id)
    owner = idempotency.owner_of(actor)
    fingerprint = idempotency.fingerprint(
        {"patrol": str(patrol_id), "points": [f.key() for f in fixes]}
    )
    found = idempotency.lookup(owner, OP_POINTS, key, fingerprint)
    if found is not None:
        return found.body
    patrol = _own(actor, patrol_id)
    if patrol.state == Patrol.State.ENDED:
        raise Conflict(ENDED)
    if not 1 <= len(fixes) <= MAX_POINTS:
        raise Invalid({"points": f"1 to {MAX_POINTS} points"})
    now = timezone.now()
    errors: dict[str, str] = {}
    for i, fix in enumerate(fixes):
        errors.update(_fix_errors(f"points.{i}.", fix, now, patrol.started_at))
    if errors:
        raise Invalid(dict(list(errors.items())[:20]))
    located = _locate(fixes)
    try:
        with transaction.atomic():
            patrol = _locked(actor, patrol.pk)
            if patrol.state == Patrol.State.ENDED:
                raise Conflict(ENDED)
            accepted = _store_points(patrol, located)
            body = {"accepted": accepted, "point_count": patrol.point_count}
            idempotency.remember(owner, OP_POINTS, key, fingerprint, 200, body, patrol.pk)
            audit.record(
                "patrol.points",
                actor=actor,
                obj=patrol,
                detail={"client_id": key, "sent": len(fixes), "accepted": accepted},
            )
    except IntegrityError:  # the same batch, sent twice at the same moment
        found = idempotency.lookup(owner, OP_POINTS, key, fingerprint)
        if found is None:
            raise
        return found.body
    return body


@dataclass(frozen=True)
class CheckInData:
    id: uuid.UUID
    checkpoint: int
    fix: Fix
    note: str = ""


def do_check_in(actor: Any, patrol_id: Any, data: CheckInData) -> CheckIn:
    """Check in at a checkpoint the worker can see. The same id again answers the same check-in;
    used for another patrol or another place, 409."""
    patrol = _own(actor, patrol_id)
    existing = CheckIn.objects.filter(pk=data.id).select_related("checkpoint").first()
    if existing is not None:
        return _replayed_check_in(existing, patrol, data)
    if patrol.state == Patrol.State.ENDED:
        raise Conflict(ENDED)
    errors = {
        **_fix_errors("", data.fix, timezone.now(), patrol.started_at),
        **control_errors(note=data.note),
    }
    if len(data.note) > 500:
        errors["note"] = "at most 500 characters"
    if errors:
        raise Invalid(errors)
    place = queries.checkpoint(actor, data.checkpoint)
    if place is None:
        raise ServiceError("no such checkpoint in your grids", "checkpoint")
    fix = data.fix
    away = distance_m(fix.lon, fix.lat, place.lon, place.lat)
    allowance = min(fix.accuracy_m or 0.0, ACCURACY_ALLOWANCE_M)
    located = _locate([fix])[0]
    try:
        with transaction.atomic():
            patrol = _locked(actor, patrol.pk)
            if patrol.state == Patrol.State.ENDED:
                raise Conflict(ENDED)
            checkin = CheckIn.objects.create(
                id=data.id,
                patrol=patrol,
                checkpoint=place,
                at=fix.at,
                lon=fix.lon,
                lat=fix.lat,
                accuracy_m=fix.accuracy_m,
                distance_m=round(away, 1),
                within=away <= place.radius_m + allowance,
                note=data.note.strip(),
                received_at=timezone.now(),
            )
            if track.counts(fix.accuracy_m):
                day = queries.local_day(fix.at)
                _touch(patrol, ((code, day) for code in located.touched))
            audit.record(
                "patrol.checkin",
                actor=actor,
                obj=patrol,
                detail={
                    "checkin": str(checkin.pk),
                    "checkpoint": place.pk,
                    "distance_m": checkin.distance_m,
                    "within": checkin.within,
                },
            )
    except IntegrityError:  # the same check-in, sent twice at the same moment
        existing = CheckIn.objects.filter(pk=data.id).select_related("checkpoint").first()
        if existing is None:
            raise
        return _replayed_check_in(existing, patrol, data)
    return checkin


def _replayed_check_in(existing: CheckIn, patrol: Patrol, data: CheckInData) -> CheckIn:
    if existing.patrol_id != patrol.pk:
        raise Conflict("this check-in id is already used", "id")
    if existing.checkpoint_id != data.checkpoint or existing.at != data.fix.at:
        raise Conflict("this check-in id was sent for another place or time", "id")
    return existing


def do_end_patrol(
    actor: Any,
    patrol_id: Any,
    ended_at: datetime,
    lon: float | None = None,
    lat: float | None = None,
    accuracy_m: float | None = None,
) -> Patrol:
    """End a patrol (the end point, if given, closes the track). Ending again answers the
    patrol as it is."""
    patrol = _own(actor, patrol_id)
    if patrol.state == Patrol.State.ENDED:
        return patrol
    errors = {**_time_errors("ended_at", ended_at, timezone.now()), **_optional_place(lon, lat)}
    errors.update(_accuracy_errors("accuracy_m", accuracy_m))
    if not errors and ended_at < patrol.started_at:
        errors["ended_at"] = "before the patrol started"
    if errors:
        raise Invalid(errors)
    end = [Fix(ended_at, lon, lat, accuracy_m)] if lon is not None and lat is not None else []
    located = _locate(end)
    with transaction.atomic():
        patrol = _locked(actor, patrol.pk)
        if patrol.state == Patrol.State.ENDED:
            return patrol
        _store_points(patrol, located)
        patrol.state = Patrol.State.ENDED
        patrol.ended_at = ended_at
        patrol.save(update_fields=["state", "ended_at"])
        audit.record(
            "patrol.end",
            actor=actor,
            obj=patrol,
            detail={
                "ended_at": ended_at.isoformat(),
                "points": patrol.point_count,
                "distance_m": round(patrol.distance_m, 1),
            },
        )
    return patrol


# ----------------------------------------------------------------------------- checkpoints


def grid_at(lon: float, lat: float) -> str | None:
    """The grid a checkpoint at this point lies in (None outside every grid)."""
    if _place_errors("", lon, lat):
        return None
    found = get_locator().locate(lon, lat)
    return found.code if found is not None and found.inside else None
