"""Bring an event to any state of the closed loop through the real services, in Huiwen grid 8."""

from __future__ import annotations

import uuid
from typing import Any

from gridgov.accounts.models import User
from gridgov.events import services
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Event
from gridgov.events.services import Input

from . import personas
from .helpers import point_in

GRID8 = "130104008019008"


def user(name: str) -> User:
    return User.objects.get(username=name)


# The people of the closed loop in Huiwen grid 8: personas made by factories (tests/personas.py).
def op() -> User:
    return personas.township_operator()


def leader() -> User:
    return personas.township_leader()


def worker() -> User:
    return personas.grid_worker()


def verifier() -> User:
    return personas.grid_leader()


def new_event(category: str = "0202", urgency: str = "normal", **kw: Any) -> Event:
    lon, lat = point_in(GRID8)
    fields: dict[str, Any] = {"channel": "web", "title": "测试", "description": "测试", **kw}
    report = Report(lon=lon, lat=lat, category=category, urgency=urgency, **fields)
    return do_intake(report, str(uuid.uuid4())).event


# state -> the path of (action, actor, input) from "reported"
PATHS: dict[str, list[tuple[str, Any, Input]]] = {
    "reported": [],
    "verifying": [("send_to_verify", op, Input())],
    "registered": [("accept", op, Input())],
    "dispatched": [("accept", op, Input()), ("dispatch", op, Input())],
    "in_progress": [("accept", op, Input()), ("dispatch", op, Input()), ("sign", worker, Input())],
    "returned": [
        ("accept", op, Input()),
        ("dispatch", op, Input()),
        ("return", worker, Input(reason="不属于本网格职责")),
    ],
    "suspended": [
        ("accept", op, Input()),
        ("dispatch", op, Input()),
        ("sign", worker, Input()),
        ("request_suspension", worker, Input(reason="等待产权方")),
        ("approve_suspension", leader, Input()),
    ],
    "awaiting_check": [
        ("accept", op, Input()),
        ("dispatch", op, Input()),
        ("sign", worker, Input()),
        ("report_result", worker, Input(note="已处置")),
    ],
    "closed": [
        ("accept", op, Input()),
        ("dispatch", op, Input()),
        ("sign", worker, Input()),
        ("report_result", worker, Input(note="已处置")),
        ("verify_pass", verifier, Input()),
    ],
    "archived": [
        ("accept", op, Input()),
        ("dispatch", op, Input()),
        ("sign", worker, Input()),
        ("report_result", worker, Input(note="已处置")),
        ("verify_pass", verifier, Input()),
        ("archive", op, Input()),
    ],
    "rejected": [("reject", op, Input(reason="重复上报"))],
    "cancelled": [("send_to_verify", op, Input()), ("refute", verifier, Input(reason="不实"))],
}


def in_state(state: str, **kw: Any) -> Event:
    if state == "merged":
        parent = in_state("registered")
        event = new_event(**kw)
        return services.act(event.pk, "merge", op(), Input(parent=parent.code))
    event = new_event(**kw)
    for action, actor, inp in PATHS[state]:
        event = services.act(event.pk, action, actor(), inp)
    assert event.state == state
    return event
