"""Events over the API: intake, every workflow action, scoped lists and details."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from gridgov.accounts.auth import API_AUTH
from gridgov.core.errors import NotFound

from . import queries, services
from .attachments import do_upload
from .intake import Report, do_intake, reporter_secret
from .models import Event
from .workflow import RULES

router = Router(auth=API_AUTH, tags=["events"])
public = Router(tags=["events"])

# Every action of the rule table but the reporter's own cancel, which has its public endpoint.
if TYPE_CHECKING:
    ActionName = str
else:
    ActionName = Literal[tuple(sorted(a for a in RULES if a != "cancel"))]


class ReportIn(Schema):
    client_id: str | None = Field(None, description="or the Idempotency-Key header")
    channel: Literal["web", "wechat", "open311", "app", "phone"]
    title: str = Field(..., min_length=1, max_length=100)
    description: str = Field(..., min_length=1, max_length=4000)
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    address: str = Field("", max_length=200)
    category: str | None = Field(None, max_length=8)
    urgency: Literal["normal", "urgent"] = "normal"
    reporter_name: str = Field("", max_length=64)
    reporter_phone: str = Field("", max_length=20)
    reporter_openid: str = Field("", max_length=64)
    attachments: list[UUID] = Field(default_factory=list, max_length=9)
    resolved_on_spot: bool = False
    note: str = Field("", max_length=2000)


class ReceiptOut(Schema):
    id: UUID
    code: str
    state: str
    grid_code: str
    receiving_centre: str
    location_uncertain: bool
    due_at: datetime | None
    duplicate_candidates: list[str]
    reporter_secret: str


class EventOut(Schema):
    id: UUID
    code: str
    title: str
    state: str
    category: str | None
    urgency: str
    grid_code: str
    handling_level: str
    supervision: str
    due_at: datetime | None
    reported_at: datetime
    assignee: str
    version: int


class TimelineOut(Schema):
    seq: int
    at: datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str
    data: dict[str, Any]


class AttachmentOut(Schema):
    id: UUID
    kind: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    duration_s: float | None


class EventDetail(EventOut):
    description: str
    address: str
    lon: float
    lat: float
    channel: str
    reporter: str
    receiving_centre: str
    location_uncertain: bool
    rework_count: int
    return_count: int
    merged_count: int
    extension_count: int
    satisfaction: int | None
    parent: str | None
    duplicate_candidates: list[str]
    timeline: list[TimelineOut]
    attachments: list[AttachmentOut]


class EventPage(Schema):
    count: int
    items: list[EventOut]


class ActionIn(Schema):
    expected_version: int | None = Field(None, description="refuse if the event changed since")
    note: str = Field("", max_length=2000)
    reason: str = Field("", max_length=2000)
    category: str | None = Field(None, max_length=8)
    urgency: Literal["normal", "urgent"] | None = None
    target_grid: str | None = Field(None, pattern=r"^\d{15}$")
    target_unit: str | None = Field(None, max_length=32)
    parent: str | None = Field(None, max_length=24)
    amount: Decimal | None = Field(None, gt=0, le=1000)
    unit: Literal["min", "h", "wh", "wd"] | None = None
    satisfaction: int | None = Field(None, ge=1, le=5)
    level: Literal["yellow", "red"] | None = None
    attachments: list[UUID] = Field(default_factory=list, max_length=9)


class CancelIn(Schema):
    reporter_secret: str = Field(..., max_length=64)


class EventFilter(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)
    state: str = Field("", pattern=r"^[a-z_,]*$", max_length=200)
    category: str = Field("", pattern=r"^\d{0,4}$")
    under: str = Field("", pattern=r"^\d{0,15}$")
    supervision: Literal["", "yellow", "red"] = ""
    q: str = Field("", max_length=50)


def _assignee(e: Event) -> str:
    if e.assignee_kind == "grid":
        return e.assignee_grid
    return e.assignee_unit.name if e.assignee_unit_id and e.assignee_unit else ""


def _row(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "code": e.code,
        "title": e.title,
        "state": e.state,
        "category": e.category.code if e.category_id and e.category else None,
        "urgency": e.urgency,
        "grid_code": e.grid_code,
        "handling_level": e.handling_level,
        "supervision": e.supervision,
        "due_at": e.due_at,
        "reported_at": e.reported_at,
        "assignee": _assignee(e),
        "version": e.version,
    }


def _detail(e: Event) -> dict[str, Any]:
    reporter = queries.mask_name(e.reporter_name)
    if e.reporter_phone:
        reporter = f"{reporter} {queries.mask_phone(e.reporter_phone)}".strip()
    return {
        **_row(e),
        "description": e.description,
        "address": e.address,
        "lon": e.lon,
        "lat": e.lat,
        "channel": e.channel,
        "reporter": reporter,
        "receiving_centre": e.receiving_centre.name,
        "location_uncertain": e.location_uncertain,
        "rework_count": e.rework_count,
        "return_count": e.return_count,
        "merged_count": e.merged_count,
        "extension_count": e.extension_count,
        "satisfaction": e.satisfaction,
        "parent": e.parent.code if e.parent_id and e.parent else None,
        "duplicate_candidates": e.duplicate_candidates,
        "timeline": [
            {
                "seq": t.seq,
                "at": t.at,
                "actor": t.actor_label,
                "action": t.action,
                "from_state": t.from_state,
                "to_state": t.to_state,
                "note": t.note,
                "data": t.data,
            }
            for t in e.timeline.order_by("seq")
        ],
        "attachments": list(e.attachments.all()),
    }


def _receipt(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "code": e.code,
        "state": e.state,
        "grid_code": e.grid_code,
        "receiving_centre": e.receiving_centre.name,
        "location_uncertain": e.location_uncertain,
        "due_at": e.due_at,
        "duplicate_candidates": e.duplicate_candidates,
        "reporter_secret": reporter_secret(e),
    }


@router.post("/events", response={201: ReceiptOut}, summary="Report an event (every channel)")
def report(request: HttpRequest, body: ReportIn) -> Status[dict[str, Any]]:
    """Idempotent on `client_id` (or the `Idempotency-Key` header): a replay answers the same;
    the same key with a different body is 409. The answer comes after the commit."""
    client_id = body.client_id or request.headers.get("Idempotency-Key", "")
    data = body.dict(exclude={"client_id"})
    data["attachments"] = [str(a) for a in body.attachments]
    event, _created = do_intake(Report(**data), client_id, request.user)
    return Status(201, _receipt(event))


@router.post("/attachments", response={201: AttachmentOut})
def upload(request: HttpRequest, file: File[UploadedFile], client_id: Form[str]) -> Status[Any]:
    att, _ = do_upload(file.read(), file.name or "", client_id, request.user)
    return Status(201, att)


@router.get("/events", response=EventPage)
def list_events(request: HttpRequest, f: Query[EventFilter]) -> dict[str, Any]:
    qs = queries.events(
        request.user,
        "list",
        state=f.state,
        category=f.category,
        under=f.under,
        supervision=f.supervision,
        q=f.q,
    )
    return {"count": qs.count(), "items": [_row(e) for e in qs[f.offset : f.offset + f.limit]]}


@router.get("/events/{event_id}", response=EventDetail)
def event_detail(request: HttpRequest, event_id: str) -> dict[str, Any]:
    e = queries.events(request.user, "view").filter(**services.event_key(event_id)).first()
    if e is None:
        raise NotFound()
    return _detail(e)


@router.post(
    "/events/{event_id}/{action}",
    response=EventDetail,
    summary="Take a workflow action (see the rule table in the docs)",
)
def take_action(
    request: HttpRequest, event_id: str, action: ActionName, body: ActionIn
) -> dict[str, Any]:
    inp = services.Input(**{**body.dict(), "attachments": [str(a) for a in body.attachments]})
    event = services.act(event_id, action, request.user, inp)
    return event_detail(request, str(event.pk))


@public.post(
    "/events/{code}/cancel",
    response=EventOut,
    auth=None,
    summary="The reporter withdraws a report not yet registered",
)
def cancel(request: HttpRequest, code: str, body: CancelIn) -> dict[str, Any]:
    event = services.do_cancel_by_reporter(code, body.reporter_secret)
    return _row(event)
