"""Events over the API: intake, every workflow action, scoped lists and details."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Header, Query, Router, Schema, Status
from ninja.files import UploadedFile

from gridgov.accounts.auth import API_AUTH
from gridgov.core.errors import Invalid, NotFound
from gridgov.core.schema import MAX_OFFSET, errors, rendered
from gridgov.core.text import Text
from gridgov.events import presenters, queries, services
from gridgov.events.attachments import do_upload
from gridgov.events.intake import Report, do_intake
from gridgov.events.stamp import StampIn
from gridgov.events.workflow import RULES

router = Router(auth=API_AUTH, tags=["events"])
public = Router(tags=["events"])

# Every action of the rule table but the reporter's own (cancel, rate: the public door's).
if TYPE_CHECKING:
    ActionName = str
else:
    ActionName = Literal[tuple(sorted(a for a in RULES if a not in ("cancel", "rate")))]


KEY_DOC = (
    "Idempotency key (8-80 printable ASCII characters, a UUID is ideal). Required: here or in "
    "the Idempotency-Key header. Keys belong to the caller; a replay answers exactly the same."
)


ACTION_KEY_DOC = (
    "Optional idempotency key (or the Idempotency-Key header): the action is applied once; a "
    "replay by the same caller answers what the first answered and writes nothing."
)


class ReportIn(Schema):
    client_id: str | None = Field(None, min_length=8, max_length=80, description=KEY_DOC)
    channel: Literal["web", "wechat", "open311", "app", "phone"]
    title: Text = Field(..., min_length=1, max_length=100)
    description: Text = Field(..., min_length=1, max_length=4000)
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    address: Text = Field("", max_length=200)
    category: str | None = Field(None, pattern=r"^\d{4}$")
    urgency: Literal["normal", "urgent"] = "normal"
    reporter_name: Text = Field("", max_length=64)
    reporter_phone: str = Field("", pattern=r"^\+?[0-9 -]{0,20}$")
    reporter_openid: Text = Field("", max_length=64)
    attachments: list[UUID] = Field(default_factory=list, max_length=9)
    resolved_on_spot: bool = False
    note: Text = Field("", max_length=2000)


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
    urge_level: str = Field("", description="highest step of the supervision ladder reached")
    urge_count: int = 0
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


class StampForm(Schema):
    """Where and when a photo was taken, as the device says; all optional, a photo may be
    unlocated. Times are ISO 8601 with their offset (e.g. 2026-11-27T12:00:05+08:00)."""

    taken_at: datetime | None = Field(None, description="when the photo was taken (device clock)")
    device_time: datetime | None = Field(
        None, description="the device clock at sending: the server measures its skew"
    )
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False, description="WGS-84")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False, description="WGS-84")
    accuracy_m: float | None = Field(
        None, ge=0, le=100_000, allow_inf_nan=False, description="the fix's accuracy radius (m)"
    )
    fix_at: datetime | None = Field(None, description="when the position was fixed (device clock)")


class StampOut(Schema):
    taken_at: datetime | None
    device_time: datetime | None
    received_at: datetime = Field(..., description="the server's time of the first upload")
    lon: float | None
    lat: float | None
    accuracy_m: float | None
    fix_at: datetime | None
    clock_skew_s: int | None = Field(..., description="server time − device time, in seconds")


class AttachmentOut(Schema):
    id: UUID
    kind: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    duration_s: float | None
    stamp: StampOut | None = Field(
        ..., description="the stamp sent with the upload (drawn on a photo), else null"
    )


class ChoiceOut(Schema):
    value: str
    label: str


class InputOut(Schema):
    name: str
    kind: str
    label: str
    required: bool
    choices: list[ChoiceOut] | None


class ActionOut(Schema):
    action: str
    label: str
    target: str | None
    inputs: list[InputOut]


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
    public_reply: str
    rating: str = Field(..., description="the reporter's: satisfied, basically, unsatisfied or ''")
    rating_label: str
    rating_comment: str
    parent: str | None
    duplicate_candidates: list[str]
    timeline: list[TimelineOut]
    attachments: list[AttachmentOut]
    actions: list[ActionOut] = Field(..., description="what the caller may do now, with inputs")


class EventPage(Schema):
    count: int
    items: list[EventOut]


class ActionIn(Schema):
    client_id: str | None = Field(None, min_length=8, max_length=80, description=ACTION_KEY_DOC)
    expected_version: int | None = Field(
        None, ge=0, le=2**31 - 1, description="refuse if the event changed since"
    )
    note: Text = Field("", max_length=2000)
    reason: Text = Field("", max_length=2000)
    category: str | None = Field(None, pattern=r"^\d{4}$")
    urgency: Literal["normal", "urgent"] | None = None
    target_grid: str | None = Field(None, pattern=r"^\d{15}$")
    target_unit: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,32}$")
    parent: str | None = Field(None, pattern=r"^[A-Za-z0-9]{1,24}$")
    amount: Decimal | None = Field(None, gt=0, le=1000, decimal_places=2)
    unit: Literal["min", "h", "wh", "wd"] | None = None
    satisfaction: int | None = Field(None, ge=1, le=5)
    reply: Text = Field("", max_length=500, description="reply: what the public reads")
    level: Literal["remind", "formal", "listed"] | None = Field(
        None, description="supervise: 催办 remind, 督办 formal, 挂牌督办 listed (leaders)"
    )
    attachments: list[UUID] = Field(default_factory=list, max_length=9)


class CancelIn(Schema):
    reporter_secret: str = Field(..., max_length=64)


class UnmaskIn(Schema):
    reason: Text = Field(..., min_length=2, max_length=200, description="why you need to see it")


class ReporterOut(Schema):
    name: str
    phone: str
    openid: str


class EventFilter(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    state: str = Field("", pattern=r"^[a-z_,]*$", max_length=200)
    category: str = Field("", pattern=r"^\d{0,4}$")
    under: str = Field("", pattern=r"^\d{0,15}$")
    supervision: Literal["", "yellow", "red"] = ""
    q: Text = Field("", max_length=50)


@router.post(
    "/events",
    response={201: ReceiptOut, **errors()},
    summary="Report an event (every channel)",
)
def report(
    request: HttpRequest,
    body: ReportIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=KEY_DOC),
) -> HttpResponse:
    """Staff report inside the area they serve; channel accounts for the public. Idempotent on
    `client_id` or the `Idempotency-Key` header: a replay answers exactly the first answer, the
    same key with a different body is 409. The answer comes after the commit."""
    return rendered(receipt(request, body, idempotency_key), 201)


def receipt(request: HttpRequest, body: ReportIn, idempotency_key: str | None) -> dict[str, Any]:
    """The report's receipt (the grid worker app's outbox sends reports through here too)."""
    client_id = body.client_id or idempotency_key or ""
    if not client_id:
        raise Invalid({"client_id": "required here or in the Idempotency-Key header"})
    data = body.dict(exclude={"client_id"})
    data["attachments"] = [str(a) for a in body.attachments]
    return do_intake(Report(**data), client_id, request.user).receipt


@router.post("/attachments", response={201: AttachmentOut, **errors()})
def upload(
    request: HttpRequest,
    file: File[UploadedFile],
    stamp: Form[StampForm],
    client_id: str = Form(..., min_length=8, max_length=80, description=KEY_DOC),
) -> Status[Any]:
    """A photo (≤ 10 MB, ≤ 40 MP) or a voice recording (AMR/MP3/AAC, ≤ 5 MB, ≤ 120 s); typed by
    content, re-encoded, metadata removed. With any stamp field, a photo gets a watermark (time,
    place and accuracy, server time and device clock skew, id) and the answer the same data.
    Idempotent per caller on `client_id`; a replay answers the first upload's server time."""
    answer, _ = do_upload(
        file, file.name or "", client_id, request.user, stamp_in=StampIn(**stamp.dict())
    )
    return Status(201, answer)


@router.get("/events", response={200: EventPage, **errors()})
def list_events(request: HttpRequest, f: Query[EventFilter]) -> dict[str, Any]:
    def found(ordered: bool) -> Any:
        return queries.events(
            request.user,
            "list",
            state=f.state,
            category=f.category,
            under=f.under,
            supervision=f.supervision,
            q=f.q,
            ordered=ordered,
        )

    # the page read in order, the count by the scope's indexes (core.scope.indexed)
    items = [presenters.row(e) for e in found(True)[f.offset : f.offset + f.limit]]
    return {"count": found(False).count(), "items": items}


@router.get("/events/{event_id}", response={200: EventDetail, **errors()})
def event_detail(request: HttpRequest, event_id: str) -> dict[str, Any]:
    e = queries.event(request.user, event_id)
    if e is None:
        raise NotFound()
    return _detail(e, request.user)


def _detail(e: Any, user: Any) -> dict[str, Any]:
    return {**presenters.detail(e, user), "actions": services.allowed_actions(e, user)}


@router.post(
    "/events/{event_id}/reporter",
    response={200: ReporterOut, **errors()},
    summary="Unmask the reporter (permission, reason and an audit row)",
)
def unmask_reporter(request: HttpRequest, event_id: str, body: UnmaskIn) -> dict[str, str]:
    return services.do_unmask_reporter(event_id, request.user, body.reason)


@router.post(
    "/events/{event_id}/{action}",
    response={200: EventDetail, **errors()},
    summary="Take a workflow action (see the rule table in the docs)",
)
def take_action(
    request: HttpRequest,
    event_id: str,
    action: ActionName,
    body: ActionIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=ACTION_KEY_DOC),
) -> dict[str, Any]:
    """Idempotent with `client_id` or the `Idempotency-Key` header: applied once, and a replay
    by the same caller answers exactly what the first request was answered."""
    user = request.user
    inputs = {**body.dict(exclude={"client_id"}), "attachments": [str(a) for a in body.attachments]}
    key = body.client_id or idempotency_key or ""
    if key:
        answer = services.act_once(
            event_id, action, user, inputs, key, answer=lambda e: _detail(e, user)
        ).answer
        return answer or {}
    event = services.act(event_id, action, user, inputs)
    return event_detail(request, str(event.pk))


@public.post(
    "/events/{code}/cancel",
    response={200: EventOut, **errors()},
    auth=None,
    summary="The reporter withdraws a report not yet registered",
)
def cancel(request: HttpRequest, code: str, body: CancelIn) -> dict[str, Any]:
    event = services.do_cancel_by_reporter(code, body.reporter_secret)
    return presenters.row(event)
