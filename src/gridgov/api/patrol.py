"""Patrols over the API: the grid worker's phone starts a patrol, sends its track and check-ins
(offline first: ids chosen by the phone, every send idempotent) and ends it; scoped reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from gridgov.accounts.auth import API_AUTH
from gridgov.core.errors import NotFound
from gridgov.core.schema import MAX_OFFSET, errors
from gridgov.core.text import Text
from gridgov.patrol import presenters, queries, services
from gridgov.patrol.services import CheckInData, Fix

router = Router(auth=API_AUTH, tags=["patrols"])

ID_DOC = "Chosen by the phone (a UUID), so a start sent twice makes one patrol."
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _lon(default: Any = ...) -> Any:
    return Field(default, ge=-180, le=180, allow_inf_nan=False, description="WGS-84 degrees")


def _lat(default: Any = ...) -> Any:
    return Field(default, ge=-90, le=90, allow_inf_nan=False, description="WGS-84 degrees")


def _accuracy() -> Any:
    return Field(
        None,
        ge=0,
        le=services.MAX_ACCURACY_M,
        allow_inf_nan=False,
        description="the phone's stated accuracy in metres",
    )


class StartIn(Schema):
    id: UUID = Field(..., description=ID_DOC)
    started_at: datetime = Field(..., description="the phone's time, with its UTC offset")
    lon: float | None = _lon(None)
    lat: float | None = _lat(None)
    accuracy_m: float | None = _accuracy()


class PointIn(Schema):
    at: datetime
    lon: float = _lon()
    lat: float = _lat()
    accuracy_m: float | None = _accuracy()


class PointsIn(Schema):
    client_id: str = Field(
        ...,
        min_length=8,
        max_length=80,
        description="The batch's idempotency key: a replay stores nothing new.",
    )
    points: list[PointIn] = Field(..., min_length=1, max_length=services.MAX_POINTS)


class CheckInIn(Schema):
    id: UUID = Field(..., description="Chosen by the phone (a UUID); a replay answers the same.")
    checkpoint: int = Field(..., ge=1, le=2**63 - 1)
    at: datetime
    lon: float = _lon()
    lat: float = _lat()
    accuracy_m: float | None = _accuracy()
    note: Text = Field("", max_length=500)


class EndIn(Schema):
    ended_at: datetime
    lon: float | None = _lon(None)
    lat: float | None = _lat(None)
    accuracy_m: float | None = _accuracy()


class CheckInOut(Schema):
    id: UUID
    checkpoint: int
    checkpoint_name: str
    at: datetime
    distance_m: float
    within: bool


class PatrolOut(Schema):
    id: UUID
    worker: str = Field(..., description="the worker's display name")
    grid_code: str
    started_at: datetime
    ended_at: datetime | None
    state: Literal["active", "ended"]
    point_count: int
    distance_m: float
    grids: list[str] = Field(..., description="the grids the patrol walked through")
    checkins: list[CheckInOut]


class PatrolDetail(PatrolOut):
    track: list[tuple[float, float, str]] = Field(
        ..., description="[lon, lat, time in ISO 8601] in time order"
    )


class PointsOut(Schema):
    accepted: int = Field(..., description="points stored by this batch (new moments only)")
    point_count: int


class PatrolPage(Schema):
    count: int
    items: list[PatrolOut]


class PatrolFilter(Schema):
    mine: bool = False
    day: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="a local day (Asia/Shanghai), YYYY-MM-DD"
    )
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CheckpointOut(Schema):
    id: int
    name: str
    kind: str
    grid_code: str
    lon: float
    lat: float
    radius_m: int


class CheckpointFilter(Schema):
    under: str = Field("", pattern=r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12}|\d{15})?$")


def _answer(patrol_id: Any, user: Any) -> dict[str, Any]:
    p = queries.patrol(user, patrol_id)
    if p is None:
        raise NotFound()
    return presenters.patrol(p)


@router.post("/patrols", response={201: PatrolOut, **errors()}, summary="Start a patrol")
def start(request: HttpRequest, body: StartIn) -> Status[dict[str, Any]]:
    """Grid workers and grid leaders with an active post. The patrol belongs to the grid of
    their post that the start point lies in (else their first grid post). The same id again by
    the same worker answers the patrol as it is; used by another account, 409."""
    p = services.do_start_patrol(
        request.user, body.id, body.started_at, body.lon, body.lat, body.accuracy_m
    )
    return Status(201, _answer(p.pk, request.user))


@router.get("/patrols", response={200: PatrolPage, **errors()})
def list_patrols(request: HttpRequest, f: Query[PatrolFilter]) -> dict[str, Any]:
    """Patrols in the caller's scope (a grid worker: their own), newest first; `mine` keeps
    the caller's own, `day` those that started on that day or walked through a grid on it."""
    qs = queries.patrols(request.user, "list", mine=f.mine, day=f.day)
    page = queries.with_details(qs)[f.offset : f.offset + f.limit]
    return {"count": qs.count(), "items": [presenters.patrol(p) for p in page]}


@router.get("/patrols/{patrol_id}", response={200: PatrolDetail, **errors()})
def patrol_detail(request: HttpRequest, patrol_id: str) -> dict[str, Any]:
    p = queries.patrol(request.user, patrol_id)
    if p is None:
        raise NotFound()
    return presenters.detail(p, queries.track(p))


@router.post(
    "/patrols/{patrol_id}/points",
    response={200: PointsOut, **errors()},
    summary="Send track points (idempotent per batch)",
)
def add_points(request: HttpRequest, patrol_id: str, body: PointsIn) -> dict[str, int]:
    """Up to 500 points per batch. A replay of the same `client_id` answers what the first
    send was answered and stores nothing; a point for a moment already stored is skipped.
    Points of an ended patrol are refused (409)."""
    fixes = [Fix(p.at, p.lon, p.lat, p.accuracy_m) for p in body.points]
    return services.do_add_points(request.user, patrol_id, body.client_id, fixes)


@router.post(
    "/patrols/{patrol_id}/checkins",
    response={201: CheckInOut, **errors()},
    summary="Check in at a checkpoint",
)
def check_in(request: HttpRequest, patrol_id: str, body: CheckInIn) -> Status[dict[str, Any]]:
    """`within` is true when the phone was inside the checkpoint's radius, plus its stated
    accuracy (at most 100 m of it). A checkpoint the worker cannot see is 400 on `checkpoint`;
    the same id again answers the same check-in."""
    data = CheckInData(
        body.id, body.checkpoint, Fix(body.at, body.lon, body.lat, body.accuracy_m), body.note
    )
    c = services.do_check_in(request.user, patrol_id, data)
    return Status(201, presenters.checkin(c))


@router.post("/patrols/{patrol_id}/end", response={200: PatrolOut, **errors()})
def end(request: HttpRequest, patrol_id: str, body: EndIn) -> dict[str, Any]:
    """Ending again answers the patrol as it is."""
    p = services.do_end_patrol(
        request.user, patrol_id, body.ended_at, body.lon, body.lat, body.accuracy_m
    )
    return _answer(p.pk, request.user)


@router.get("/checkpoints", response={200: list[CheckpointOut], **errors()})
def checkpoints(request: HttpRequest, f: Query[CheckpointFilter]) -> list[dict[str, Any]]:
    """The active checkpoints in the caller's scope (a grid worker: the grids of their
    posts); `under` keeps those inside a region or grid code."""
    qs = queries.checkpoints(request.user, "list", under=f.under)
    return [presenters.checkpoint(c) for c in qs[: queries.CHECKPOINT_LIMIT]]
