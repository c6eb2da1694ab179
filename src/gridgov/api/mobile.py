"""The grid workers' app over the API: sign in a phone (a bearer token of its own), one read
that fills the phone for a day without signal (tasks with what may be done to them, and the
categories), the worker's history and numbers, and the photos of their tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.contrib.auth import authenticate
from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import BaseModel, ValidationError

from gridgov.accounts import passwords
from gridgov.accounts.auth import API_AUTH
from gridgov.accounts.scope import active_posts
from gridgov.accounts.services import do_issue_app_token, do_revoke_app_token, may_use_app
from gridgov.core import throttle
from gridgov.core.errors import Forbidden, Invalid, NotFound, ServiceError
from gridgov.core.schema import errors
from gridgov.core.text import Text
from gridgov.events import presenters, queries, services
from gridgov.events.models import Category
from gridgov.events.states import STATE_LABELS
from gridgov.events.workflow import PERSON_ACTIONS
from gridgov.regions.models import Grid

from . import events as events_api
from . import patrol as patrol_api

router = Router(tags=["app"])
log = logging.getLogger(__name__)


class SignInIn(Schema):
    username: Text = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=256)
    otp_code: str = Field("", max_length=12)
    device: Text = Field("", max_length=60, description="what the phone calls itself")


class SignInOut(Schema):
    token: str
    username: str
    display_name: str


class Unauthorized(ServiceError):
    status = 401


@router.post("/signin", auth=None, response={200: SignInOut, **errors()})
def signin(request: HttpRequest, body: SignInIn) -> dict[str, Any]:
    """Password (and the second factor where the account has one) for a token kept on the
    phone. Failures count toward the same lockouts as the console's sign-in."""
    user = authenticate(
        request, username=body.username, password=body.password, otp_code=body.otp_code or None
    )
    if user is None:
        raise Unauthorized("wrong username, password or code, or the account is locked")
    if not may_use_app(user):
        raise Forbidden("the app is for grid workers and grid leaders")
    if passwords.expired(user):
        # A new token is a new sign-in: an expired password is changed first (in the console).
        raise Forbidden("your password has expired; change it in the console first")
    ip = throttle.client_ip(request)
    token = do_issue_app_token(user, body.device or "phone", ip)
    return {
        "token": token,
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", "") or user.get_username(),
    }


@router.post("/signout", auth=API_AUTH, response={204: None, **errors()})
def signout(request: HttpRequest) -> Status[None]:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip() if scheme.lower() == "bearer" else ""
    do_revoke_app_token(request.user, raw, throttle.client_ip(request))
    return Status(204, None)


class SyncOut(Schema):
    server_time: datetime
    me: dict[str, Any]
    tasks: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    states: dict[str, str]


@router.get("/sync", auth=API_AUTH, response={200: SyncOut, **errors()})
def sync(request: HttpRequest) -> dict[str, Any]:
    """Everything the phone needs to work offline, in one answer."""
    user = request.user
    if not may_use_app(user):
        raise Forbidden("the app is for grid workers and grid leaders")
    return {
        "server_time": timezone.now(),
        "me": _me(user),
        "tasks": [
            presenters.field_task(e, tab, user, actions)
            for tab, e in queries.field_tasks(user)
            if (actions := services.allowed_actions(e, user))
        ],
        "categories": _categories(),
        "states": {str(state.value): str(label) for state, label in STATE_LABELS.items()},
    }


class HistoryOut(Schema):
    numbers: dict[str, Any]
    items: list[dict[str, Any]]


@router.get("/history", auth=API_AUTH, response={200: HistoryOut, **errors()})
def history(request: HttpRequest) -> dict[str, Any]:
    """What the worker reported and handled lately, and their numbers this month."""
    user = request.user
    month = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "numbers": queries.field_numbers(user, month),
        "items": [presenters.field_history_row(e, user) for e in queries.field_history(user)],
    }


@router.get("/attachments/{attachment_id}", auth=API_AUTH, response={200: None, **errors()})
def attachment(request: HttpRequest, attachment_id: UUID) -> FileResponse:
    """A photo or recording of an event the caller may see (the app has no session cookie)."""
    found = queries.attachment(request.user, attachment_id)
    if found is None:
        raise NotFound()
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _me(user: Any) -> dict[str, Any]:
    codes = [p.scope_code for p in active_posts(user) if len(p.scope_code) == 15]
    rows = Grid.objects.filter(code__in=codes, effective_to__isnull=True)
    # The boundaries go to the phone: with no basemap or no signal, the grid is the map.
    return {
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", "") or user.get_username(),
        "grids": [
            {"code": code, "name": name, "boundary": boundary}
            for code, name, boundary in rows.order_by("code").values_list(
                "code", "name", "boundary"
            )
        ],
    }


def _categories() -> list[dict[str, Any]]:
    rows = Category.objects.filter(active=True).select_related("parent").order_by("code")
    return [
        {"code": c.code, "name": c.name, "parent": c.parent.name if c.parent else ""}
        for c in rows
        if c.parent_id
    ]


# ----------------------------------------------------------------------------- the outbox

Kind = Literal["report", "action", "patrol_start", "patrol_points", "patrol_checkin", "patrol_end"]


class OutboxItem(Schema):
    kind: Kind
    key: str = Field(..., min_length=8, max_length=80, description="the item's idempotency key")
    target: str = Field(
        "", pattern=r"^[A-Za-z0-9-]{0,64}$", description="the event or patrol it is about"
    )
    action: str = Field("", pattern=r"^[a-z_]{0,40}$")
    body: dict[str, Any] = Field(default_factory=dict)


class OutboxIn(Schema):
    items: list[OutboxItem] = Field(..., min_length=1, max_length=50)


class OutboxResult(Schema):
    key: str
    status: int
    body: Any


class OutboxOut(Schema):
    results: list[OutboxResult]


@router.post("/outbox", auth=API_AUTH, response={200: OutboxOut, **errors()})
def outbox(request: HttpRequest, body: OutboxIn) -> dict[str, Any]:
    """What the phone queued while it had no signal, in the order it was made. Each item goes
    through the same door as when sent alone (same checks, same idempotency key, its own
    transaction) and gets its own answer: the HTTP status that door would have given and its
    body. A refusal is an answer too (the phone shows the worker why), not an error of the
    batch, so one refused item holds back nothing behind it."""
    results = []
    for item in body.items:
        status, answer = deliver(request, item)
        results.append({"key": item.key, "status": status, "body": answer})
    return {"results": results}


def deliver(request: HttpRequest, item: OutboxItem) -> tuple[int, Any]:
    try:
        status, value, out = DELIVERY[item.kind](request, item)
    except ValidationError as exc:
        return 422, {"detail": _pydantic_errors(exc)}
    except ServiceError as exc:
        return exc.status, {"detail": exc.detail()}
    except Http404:
        return 404, {"detail": [{"loc": ["body"], "msg": "Not Found", "type": "NotFound"}]}
    except Exception:
        # A fault of ours in one item (its own transaction has rolled back) must not hold
        # back the items after it; the phone keeps this one and tries it again later.
        log.exception("outbox item %s (%s) failed", item.key, item.kind)
        return 500, {"detail": [{"loc": ["body"], "msg": "Internal Server Error", "type": "Error"}]}
    return status, out.model_validate(value).model_dump(mode="json")


def _pydantic_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def _report(request: HttpRequest, item: OutboxItem) -> tuple[int, Any, type[BaseModel]]:
    data = events_api.ReportIn.model_validate({**item.body, "client_id": item.key})
    return 201, events_api.receipt(request, data, None), events_api.ReceiptOut


def _action(request: HttpRequest, item: OutboxItem) -> tuple[int, Any, type[BaseModel]]:
    if item.action not in PERSON_ACTIONS or item.action == "cancel":
        raise Invalid({"action": "not an action"})
    data = events_api.ActionIn.model_validate({**item.body, "client_id": item.key})
    answer = events_api.take_action(request, item.target, item.action, data, None)
    return 200, answer, events_api.EventDetail


def _patrol_start(request: HttpRequest, item: OutboxItem) -> tuple[int, Any, type[BaseModel]]:
    answer = patrol_api.start(request, patrol_api.StartIn.model_validate(item.body))
    return answer.status_code, answer.value, patrol_api.PatrolOut


def _patrol_points(request: HttpRequest, item: OutboxItem) -> tuple[int, Any, type[BaseModel]]:
    data = patrol_api.PointsIn.model_validate({**item.body, "client_id": item.key})
    return 200, patrol_api.add_points(request, item.target, data), patrol_api.PointsOut


def _patrol_checkin(request: HttpRequest, item: OutboxItem) -> tuple[int, Any, type[BaseModel]]:
    answer = patrol_api.check_in(
        request, item.target, patrol_api.CheckInIn.model_validate(item.body)
    )
    return answer.status_code, answer.value, patrol_api.CheckInOut


def _patrol_end(request: HttpRequest, item: OutboxItem) -> tuple[int, Any, type[BaseModel]]:
    data = patrol_api.EndIn.model_validate(item.body)
    return 200, patrol_api.end(request, item.target, data), patrol_api.PatrolOut


DELIVERY: dict[str, Callable[[HttpRequest, OutboxItem], tuple[int, Any, type[BaseModel]]]] = {
    "report": _report,
    "action": _action,
    "patrol_start": _patrol_start,
    "patrol_points": _patrol_points,
    "patrol_checkin": _patrol_checkin,
    "patrol_end": _patrol_end,
}
