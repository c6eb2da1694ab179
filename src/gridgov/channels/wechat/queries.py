"""Reads for the official account: answers already given, and a user's own reports (found by
the blind index of the openid that filed them, never by anything the user could type)."""

from __future__ import annotations

from django.utils import timezone

from gridgov.events.models import Event
from gridgov.events.states import STATE_LABELS, State

from .models import Inbound
from .workflow import PROGRESS_ROWS


def reply_to(key: str) -> str | None:
    """The answer given to this message before, or None when it is new."""
    return Inbound.objects.filter(key=key).values_list("reply", flat=True).first()


def own_reports(openid_index: str) -> list[dict[str, str]]:
    rows = (
        Event.objects.filter(reporter_openid_index=openid_index, channel=Event.Channel.WECHAT)
        .order_by("-reported_at")
        .values_list("code", "reported_at", "state")[:PROGRESS_ROWS]
    )
    return [
        {
            "code": code,
            "date": timezone.localtime(at).strftime("%Y-%m-%d"),
            "state": str(STATE_LABELS[State(state)]),
        }
        for code, at, state in rows
    ]
