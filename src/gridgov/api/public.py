"""The citizens' door (no account): report with photos or a voice recording, follow a report by
its case number, withdraw it, rate the result, and read the square map (广场地图).

Its own limits: per device (a random id the page keeps, header ``X-Device-Id``) and per
address, each with a clear message and ``Retry-After``; a proof of work on every new report
(core/challenge.py); reports carry the channel and never a staff identity, even when the
browser also holds a console session. Wrong case numbers and wrong proofs answer alike (404)
and are counted per address and per case number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Header, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile

from gridgov.core import challenge, idempotency, throttle
from gridgov.core.errors import Invalid, NotFound, TooManyRequests
from gridgov.core.schema import errors
from gridgov.core.text import Text
from gridgov.events import public as square
from gridgov.events import services
from gridgov.events.attachments import OPERATION as UPLOAD_OPERATION
from gridgov.events.attachments import do_upload
from gridgov.events.intake import Intake, Report, do_intake, replay
from gridgov.events.models import Attachment, Category, Event
from gridgov.events.relations import proves_reporter

router = Router(tags=["public"])

DEVICE_DOC = "A random id the page keeps for this browser (16-64 letters, digits, -)."
DEVICE_PATTERN = r"^[A-Za-z0-9-]{16,64}$"
CODE_PATTERN = r"^[A-Z]{1,8}[0-9]{8,16}$"
MAX_ATTACHMENTS = 9  # photos and the recording together (intake's limit)


# ----------------------------------------------------------------------------- limits


def _device(value: str | None) -> str:
    if not value:
        raise Invalid({"X-Device-Id": "required: " + DEVICE_DOC})
    return value


def _limit(name: str, ident: str, rate: tuple[int, int], message: str) -> None:
    limit, period = rate
    hit = throttle.hit(name, ident, limit, period)
    if not hit.allowed:
        raise TooManyRequests(message, hit.retry_after)


def _address(request: HttpRequest) -> str:
    return throttle.address_ident(throttle.client_ip(request))


def _limit_device_then_address(
    request: HttpRequest, kind: str, device: str, rates: list[tuple[int, int]], address_rate: Any
) -> None:
    """Every attempt counts against its device; only what the device may send counts against
    the address, so one flooding phone does not shut out the others behind the same NAT."""
    message = _("You have sent a lot in a short time. Please try again in a while.")
    for n, rate in enumerate(rates):
        _limit(f"pub-{kind}-d{n}", device, rate, message)
    busy = _("Too many reports from your network just now. Please try again in a while.")
    _limit(f"pub-{kind}-a", _address(request), address_rate, busy)


AGAIN = "Too many attempts. Please try again later."


# ----------------------------------------------------------------------------- schemas


class ChallengeOut(Schema):
    token: str
    bits: int
    expires_in: int


class CategoryOut(Schema):
    code: str
    name: str
    parent: str
    on_square: bool = Field(..., description="shown on the square map (public, not sensitive)")


class PublicReportIn(Schema):
    client_id: str = Field(..., min_length=8, max_length=80, description="a new UUID per report")
    category: str = Field("", pattern=r"^(\d{4})?$", description="empty: other / not sure")
    description: Text = Field("", max_length=2000)
    voice: UUID | None = Field(None, description="an uploaded voice recording")
    photos: list[UUID] = Field(
        default_factory=list, max_length=9, description="at most 9 with the voice recording"
    )
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    address: Text = Field("", max_length=200)
    name: Text = Field("", max_length=32)
    phone: str = Field("", pattern=r"^(1[3-9][0-9]{9})?$", description="a mainland mobile")
    anonymous: bool = False
    challenge: str = Field(..., min_length=1, max_length=300)
    answer: str = Field(..., pattern=r"^[0-9]{1,12}$")


class PublicReceiptOut(Schema):
    code: str
    state: str
    receiving_centre: str
    reporter_secret: str


class UploadOut(Schema):
    id: UUID
    kind: str


class ProofIn(Schema):
    reporter_secret: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")
    phone_last4: str = Field("", pattern=r"^([0-9]{4})?$")


class StepOut(Schema):
    step: str
    at: datetime


class ProgressOut(Schema):
    code: str
    title: str
    description: str
    category: str
    state: str
    state_label: str
    stage: str
    merged_into: str
    receiving_centre: str
    reported_at: datetime
    closed_at: datetime | None
    reply: str
    steps: list[StepOut]
    may_withdraw: bool
    may_rate: bool
    rating: str
    rated_at: datetime | None


class RatingIn(ProofIn):
    rating: Literal["satisfied", "basically", "unsatisfied"]
    comment: Text = Field("", max_length=500)


class CellOut(Schema):
    lon: float
    lat: float
    count: int
    stages: dict[str, int]


class TileOut(Schema):
    cells: list[CellOut]


class SpotItemOut(Schema):
    category: str
    stage: str
    stage_label: str
    reported_on: date
    closed_on: date | None
    reply: str


class OverviewOut(SpotItemOut):
    code: str


class SquareFilter(Schema):
    category: str = Field("", pattern=r"^(\d{2}|\d{4})?$")
    stage: Literal["", "accepted", "handling", "done"] = ""


# ----------------------------------------------------------------------------- reporting


@router.post("/challenge", response={200: ChallengeOut, **errors()}, auth=None)
def new_challenge(
    request: HttpRequest,
    x_device_id: str | None = Header(None, pattern=DEVICE_PATTERN, description=DEVICE_DOC),
) -> dict[str, Any]:
    """A proof-of-work challenge for the next report (see core/challenge.py)."""
    _limit_device_then_address(
        request,
        "challenge",
        _device(x_device_id),
        [settings.PUBLIC_CHALLENGE_DEVICE_RATE],
        settings.PUBLIC_CHALLENGE_RATE,
    )
    c = challenge.issue()
    return {"token": c.token, "bits": c.bits, "expires_in": c.expires_in}


@router.get("/categories", response={200: list[CategoryOut]}, auth=None)
def categories(request: HttpRequest) -> list[dict[str, Any]]:
    """What a citizen may pick, top classes and their sub-classes (empty code: other)."""
    rows = Category.objects.filter(active=True).select_related("parent").order_by("code")
    return [
        {
            "code": c.code,
            "name": c.name,
            "parent": c.parent.code if c.parent else "",
            "on_square": c.public and not c.sensitive,
        }
        for c in rows
    ]


@router.post("/uploads", response={201: UploadOut, **errors()}, auth=None)
def upload(
    request: HttpRequest,
    file: File[UploadedFile],
    client_id: str = Form(..., min_length=8, max_length=80),
    x_device_id: str | None = Header(None, pattern=DEVICE_PATTERN, description=DEVICE_DOC),
) -> Status[dict[str, Any]]:
    """A photo or a voice recording for a report (checked by content, re-encoded)."""
    device = _device(x_device_id)
    _limit_device_then_address(
        request,
        "upload",
        device,
        [settings.PUBLIC_UPLOAD_DEVICE_RATE],
        settings.PUBLIC_UPLOAD_ADDRESS_RATE,
    )
    answer, _created = do_upload(file, file.name or "", client_id, None, owner=f"device:{device}")
    return Status(201, {"id": answer["id"], "kind": answer["kind"]})


@router.post("/reports", response={201: PublicReceiptOut, **errors()}, auth=None)
def report(
    request: HttpRequest,
    body: PublicReportIn,
    x_device_id: str | None = Header(None, pattern=DEVICE_PATTERN, description=DEVICE_DOC),
) -> Status[dict[str, Any]]:
    """File a report without an account. Idempotent per device on ``client_id``: a replay
    answers the first receipt (and needs no new challenge). The answer comes after commit."""
    device = _device(x_device_id)
    rates = [settings.PUBLIC_REPORT_DEVICE_RATE, settings.PUBLIC_REPORT_DEVICE_DAILY]
    # only the device's own limit before the replay check: a retry must get its receipt
    message = _("You have sent a lot in a short time. Please try again in a while.")
    for n, rate in enumerate(rates):
        _limit(f"pub-report-d{n}", device, rate, message)
    data = _report(body)
    owner = f"device:{device}"
    _own_uploads(owner, body)
    found = replay(data, body.client_id, owner)
    if found is not None:
        return Status(201, _public_receipt(found))
    # Only a solved challenge counts against the address: junk cannot spend a NAT's budget.
    solved = challenge.verify(body.challenge, body.answer)
    if isinstance(solved, str):
        raise Invalid({"challenge": solved})
    busy = _("Too many reports from your network just now. Please try again in a while.")
    _limit("pub-report-a", _address(request), settings.PUBLIC_REPORT_ADDRESS_RATE, busy)
    with transaction.atomic():  # a report refused by intake keeps its challenge
        if not challenge.spend(solved):
            raise Invalid({"challenge": "the challenge was used already; ask for a new one"})
        intake = do_intake(data, body.client_id, None, owner=owner)
    return Status(201, _public_receipt(intake))


def _report(body: PublicReportIn) -> Report:
    text = body.description.strip()
    if not text and body.voice is None:
        raise Invalid({"description": "describe the problem, in words or by a voice recording"})
    title = (text.splitlines()[0][:30] if text else "") or _("Voice report")
    if body.category:
        cat = Category.objects.filter(code=body.category, active=True).first()
        if cat is None:
            raise Invalid({"category": f"unknown category {body.category!r}"})
        title = f"{cat.name}：{title}"[:100]
    attachments = [str(a) for a in body.photos] + ([str(body.voice)] if body.voice else [])
    if len(set(attachments)) != len(attachments):
        raise Invalid({"photos": "each photo or recording once"})
    if len(attachments) > MAX_ATTACHMENTS:
        raise Invalid({"photos": f"at most {MAX_ATTACHMENTS} photos and recordings together"})
    return Report(
        channel=Event.Channel.WEB,
        title=title,
        description=text or _("(voice recording)"),
        lon=body.lon,
        lat=body.lat,
        crs=body.crs,
        address=body.address,
        category=body.category or None,
        reporter_name="" if body.anonymous else body.name.strip(),
        reporter_phone="" if body.anonymous else body.phone,
        attachments=attachments,
        phone_proof=True,
    )


def _own_uploads(owner: str, body: PublicReportIn) -> None:
    """Anonymous uploads carry no account: a device may attach only what it uploaded, photos
    as photos and a recording as the voice."""
    wanted = {str(a): Attachment.Kind.IMAGE for a in body.photos}
    if body.voice:
        wanted[str(body.voice)] = Attachment.Kind.AUDIO
    if not wanted:
        return
    ids = list(wanted)
    mine = idempotency.created_by(owner, UPLOAD_OPERATION, ids)
    kinds = dict(Attachment.objects.filter(pk__in=mine).values_list("pk", "kind"))
    for pk, kind in wanted.items():
        if pk not in mine:
            raise Invalid({"attachments": "unknown or already used attachment ids"})
        if kinds.get(UUID(pk)) != kind:
            field = "voice" if kind == Attachment.Kind.AUDIO else "photos"
            raise Invalid({field: f"not a {'recording' if field == 'voice' else 'photo'}"})


def _public_receipt(intake: Intake) -> dict[str, Any]:
    r = intake.receipt
    keys = ("code", "state", "receiving_centre", "reporter_secret")
    return {k: r[k] for k in keys}


# ----------------------------------------------------------------------------- following


def _own_case(request: HttpRequest, code: str, proof: ProofIn) -> Event:
    """The reporter's case, by the receipt's secret or the phone's last four digits.

    Digits can be guessed (10,000 of them): every attempt with digits counts, per address and
    per case number, before anything is compared. A secret cannot be guessed: wrong ones count
    per address only, and its holder is never locked out by others' attempts."""
    if proof.reporter_secret:
        e = square.case(code)
        if e is None or not proves_reporter(e, secret=proof.reporter_secret):
            _limit("pub-secret-a", _address(request), settings.PUBLIC_LOOKUP_RATE, _(AGAIN))
            raise NotFound()
        return e
    if not proof.phone_last4:
        raise Invalid({"phone_last4": "the receipt's secret or the phone's last four digits"})
    _limit("pub-digits-a", _address(request), settings.PUBLIC_LOOKUP_RATE, _(AGAIN))
    _limit("pub-digits-c", code, settings.PUBLIC_LOOKUP_CASE_RATE, _(AGAIN))
    e = square.case(code)
    if e is None or not proves_reporter(e, phone_last4=proof.phone_last4):
        raise NotFound()
    return e


@router.get(
    "/reports/{code}", response={200: OverviewOut, **errors()}, auth=None, summary="Overview"
)
def overview(request: HttpRequest, code: str = Path(..., pattern=CODE_PATTERN)) -> dict[str, Any]:
    """Without a proof: what the square map shows of a public, accepted event; else 404."""
    _limit("pub-overview-a", _address(request), settings.PUBLIC_OVERVIEW_RATE, _(AGAIN))
    e = square.case(code)
    found = square.overview(e) if e else None
    if found is None:
        raise NotFound()
    return found


@router.post("/reports/{code}/progress", response={200: ProgressOut, **errors()}, auth=None)
def progress(
    request: HttpRequest, body: ProofIn, code: str = Path(..., pattern=CODE_PATTERN)
) -> dict[str, Any]:
    """The reporter's own view: with the receipt's secret, or the phone's last four digits
    for a report filed on these pages (not in a sensitive category)."""
    return square.progress(_own_case(request, code, body))


@router.post("/reports/{code}/withdraw", response={200: ProgressOut, **errors()}, auth=None)
def withdraw(
    request: HttpRequest, body: ProofIn, code: str = Path(..., pattern=CODE_PATTERN)
) -> dict[str, Any]:
    """Withdraw a report the centre has not accepted yet (409 once it has). Only with the
    receipt's secret: someone who knows the phone must not be able to withdraw it."""
    if not body.reporter_secret:
        raise Invalid({"reporter_secret": "withdrawing needs the receipt's secret"})
    e = _own_case(request, code, body)
    return square.progress(services.do_cancel_by_reporter(e.code, body.reporter_secret))


@router.post("/reports/{code}/rating", response={200: ProgressOut, **errors()}, auth=None)
def rate(
    request: HttpRequest, body: RatingIn, code: str = Path(..., pattern=CODE_PATTERN)
) -> dict[str, Any]:
    """满意 / 基本满意 / 不满意 with a comment, once, after closing; it reaches the centre."""
    e = _own_case(request, code, body)
    rated = services.do_rate(
        e.code,
        body.rating,
        body.comment,
        secret=body.reporter_secret,
        phone_last4=body.phone_last4,
    )
    return square.progress(rated)


# ----------------------------------------------------------------------------- square map


def _cached(key: str, build: Any) -> HttpResponse:
    body = cache.get(key)
    if body is None:
        body = build()
        cache.set(key, body, settings.SQUARE_CACHE_SECONDS)
    response = JsonResponse(body, safe=False)
    response["Cache-Control"] = f"public, max-age={settings.SQUARE_CACHE_SECONDS}"
    return response


@router.get("/square/tiles/{z}/{x}/{y}", response={200: TileOut, **errors()}, auth=None)
def tile(
    request: HttpRequest,
    f: Query[SquareFilter],
    z: int = Path(..., ge=3, le=18),
    x: int = Path(..., ge=0, lt=2**18),
    y: int = Path(..., ge=0, lt=2**18),
) -> HttpResponse:
    """Public events of one map tile, counted per cell (8 × 8 per tile, down to 0.001°)."""
    if x >= 2**z or y >= 2**z:
        raise Invalid({"x": "outside the zoom level's tiles"})
    box = square.tile_box(z, x, y)
    cell = (box.east - box.west) / square.CELLS_PER_TILE

    def build() -> dict[str, Any]:
        return {"cells": square.square_cells(box, cell, f.category, f.stage)}

    return _cached(f"square:{z}:{x}:{y}:{f.category}:{f.stage}", build)


@router.get("/square/spot", response={200: list[SpotItemOut], **errors()}, auth=None)
def spot(
    request: HttpRequest,
    f: Query[SquareFilter],
    lon: float = Query(..., ge=-180, le=180),
    lat: float = Query(..., ge=-85, le=85),
) -> HttpResponse:
    """The public events at one snapped place (what a tap on the finest dot lists)."""
    key = f"spot:{round(lon, 4)}:{round(lat, 4)}:{f.category}:{f.stage}"
    return _cached(
        key,
        lambda: [
            _jsonable(square.square_item(e)) for e in square.spot(lon, lat, f.category, f.stage)
        ],
    )


def _jsonable(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in item.items()}
