"""A person's notices (in the console and the app) and how they want to hear of them beyond:
by email, by SMS. Everyone reads only their own: their account's and their posts' addresses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from gridgov.accounts import notifications
from gridgov.accounts.auth import API_AUTH
from gridgov.core.schema import errors
from gridgov.events import notices

router = Router(auth=API_AUTH, tags=["notifications"])

TOPIC_PATTERN = r"^(\*|[a-z_]{1,20}\.[a-z_]{1,26})$"


class NoticeOut(Schema):
    id: int
    topic: str
    code: str = ""
    title: str = ""
    state: str = ""
    at: datetime
    unread: bool


class NoticesOut(Schema):
    unread: int
    seen_up_to: int
    items: list[NoticeOut]


class NoticesQuery(Schema):
    after: int = Field(0, ge=0, le=2**62, description="only notices newer than this id")


class SeenIn(Schema):
    up_to: int = Field(..., ge=0, le=2**62, description="every notice up to this id is read")


class SeenOut(Schema):
    seen_up_to: int
    unread: int


class PreferenceIn(Schema):
    topic: str = Field(..., pattern=TOPIC_PATTERN, description='a kind of notice, or "*"')
    email: bool
    sms: bool


class PreferenceOut(Schema):
    topic: str
    email: bool
    sms: bool


@router.get("/notifications", response={200: NoticesOut, **errors()})
def list_notices(request: HttpRequest, q: Query[NoticesQuery]) -> dict[str, Any]:
    """Newest first (50), or with ``after`` the ones newer than it, oldest first."""
    user = request.user
    seen = notifications.seen_up_to(user)
    items = [notices.item(n, seen) for n in notifications.notices(user, after=q.after)]
    return {"unread": notifications.unread(user), "seen_up_to": seen, "items": items}


@router.post("/notifications/seen", response={200: SeenOut, **errors()})
def mark_seen(request: HttpRequest, body: SeenIn) -> dict[str, Any]:
    user = request.user
    mark = notifications.do_mark_seen(user, body.up_to)
    return {"seen_up_to": mark, "unread": notifications.unread(user)}


@router.get("/notifications/preferences", response={200: list[PreferenceOut], **errors()})
def get_preferences(request: HttpRequest) -> list[dict[str, Any]]:
    return notifications.preferences(request.user)


@router.put("/notifications/preferences", response={200: PreferenceOut, **errors()})
def put_preference(request: HttpRequest, body: PreferenceIn) -> dict[str, Any]:
    """A person's own choice for one kind of notice ("*": every kind without its own)."""
    pref = notifications.do_set_preference(
        request.user,
        body.topic,
        email=body.email,
        sms=body.sms,
    )
    return {"topic": pref.topic, "email": pref.email, "sms": pref.sms}
