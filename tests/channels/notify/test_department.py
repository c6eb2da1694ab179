"""Issue 12: a department with its own system receives its dispatched work by webhook (a real
HTTP server on loopback) and answers through the API with its own token, which reaches only
its own work."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from gridgov.accounts.models import ApiToken
from gridgov.core import outbox
from gridgov.core.models import AuditLog, Outbox
from gridgov.events.models import Event
from gridgov.events.services import Input, act

from ...eventbuilder import in_state, op
from ...loopback import http_server

pytestmark = pytest.mark.django_db

UNIT, OTHER_UNIT = "D1301-01", "D1301-02"


@dataclass
class DepartmentSystem:
    """The department's own system: checks each delivery's signature and keeps it."""

    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    bad: int = 0
    fail_next: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/gridgov/inbox"


@pytest.fixture
def system() -> Iterator[DepartmentSystem]:
    dept = DepartmentSystem()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            parts = dict(p.split("=", 1) for p in self.headers["X-Gridgov-Signature"].split(","))
            want = hmac.new(
                dept.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(want, parts["v1"]):
                dept.bad += 1
                self.send_response(401)
            elif dept.fail_next > 0:
                dept.fail_next -= 1
                self.send_response(503)
            else:
                dept.deliveries.append(self.headers["X-Gridgov-Delivery"])
                dept.received.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

    with http_server(Handler) as dept.port:
        yield dept


def _connect(dept: DepartmentSystem, unit: str = UNIT) -> str:
    out = io.StringIO()
    call_command("department", "connect", unit, dept.url, stdout=out)
    lines = out.getvalue().strip().splitlines()
    dept.secret = next(x for x in lines if x.startswith("signing secret")).split(": ", 1)[1]
    return lines[-1]  # the token, printed last


def _deliver(hours: float = 2) -> None:
    for n in range(2):  # the notice, then the webhook call it queued
        outbox.deliver_due(timezone.now() + timedelta(hours=hours * (n + 1)))


def _dispatched_to(unit: str) -> Event:
    event = in_state("registered")
    return act(event.pk, "dispatch", op(), Input(target_unit=unit))


def _api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_dispatched_work_reaches_the_departments_system_signed(system: DepartmentSystem) -> None:
    _connect(system)
    event = _dispatched_to(UNIT)
    _deliver()
    assert system.bad == 0 and len(system.received) == 1
    got = system.received[0]
    assert got["topic"] == "event.dispatched" and got["event"]["code"] == event.code
    assert got["event"]["description"] == event.description
    assert "reporter_phone" not in json.dumps(got) and got["delivery"] == system.deliveries[0]
    assert AuditLog.objects.filter(action="department.connect").exists()


def test_the_department_answers_through_the_api_with_its_token(system: DepartmentSystem) -> None:
    token = _connect(system)
    event = _dispatched_to(UNIT)
    c = _api(token)
    r = c.post(f"/api/v1/events/{event.code}/sign", {}, content_type="application/json")
    assert r.status_code == 200, r.content
    r = c.post(
        f"/api/v1/events/{event.code}/report_result",
        {"note": "已由城管执法队清理"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    event.refresh_from_db()
    assert event.state == "awaiting_check"
    assert event.timeline.filter(action="report_result").get().actor.username == "system-d1301-01"


def test_the_department_may_return_work_that_is_not_its_own(system: DepartmentSystem) -> None:
    token = _connect(system)
    event = _dispatched_to(UNIT)
    r = _api(token).post(
        f"/api/v1/events/{event.code}/return",
        {"reason": "不属于城管职责，应由园林部门处理"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    event.refresh_from_db()
    assert event.state == "returned"


def test_the_token_reaches_only_the_departments_own_work(system: DepartmentSystem) -> None:
    token = _connect(system)
    theirs = _dispatched_to(OTHER_UNIT)
    c = _api(token)
    assert c.get(f"/api/v1/events/{theirs.code}").status_code == 404
    r = c.post(f"/api/v1/events/{theirs.code}/sign", {}, content_type="application/json")
    assert r.status_code == 404
    listed = c.get("/api/v1/events").json()
    assert theirs.code not in json.dumps(listed)
    _deliver()
    assert system.received == []  # the other department's work is not sent here


def test_a_failed_delivery_is_retried_and_a_replay_has_the_same_id(
    system: DepartmentSystem,
) -> None:
    _connect(system)
    system.fail_next = 1
    _dispatched_to(UNIT)
    _deliver()
    hook = Outbox.objects.get(channel="webhook")
    assert hook.delivered_at is None and "503" in hook.last_error
    outbox.deliver_due(hook.next_attempt_at)
    hook.refresh_from_db()
    assert hook.delivered_at is not None
    assert system.deliveries == [str(hook.pk)]


def test_disconnecting_stops_deliveries_and_the_token(system: DepartmentSystem) -> None:
    token = _connect(system)
    call_command("department", "disconnect", UNIT, stdout=io.StringIO())
    event = _dispatched_to(UNIT)
    _deliver()
    assert system.received == []
    assert _api(token).get(f"/api/v1/events/{event.code}").status_code == 401
    assert not ApiToken.objects.filter(user__username="system-d1301-01", revoked=False).exists()


def test_reconnecting_replaces_the_secret_and_the_token(system: DepartmentSystem) -> None:
    first = _connect(system)
    second = _connect(system)
    assert first != second
    event = _dispatched_to(UNIT)
    assert _api(first).get(f"/api/v1/events/{event.code}").status_code == 401
    assert _api(second).get(f"/api/v1/events/{event.code}").status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["connect", "C130104", "http://127.0.0.1:9/x"],  # a centre, not a department
        ["connect", "D9999-99", "http://127.0.0.1:9/x"],
        ["connect", UNIT, "ftp://127.0.0.1/x"],
        ["connect", UNIT, "not a url"],
        ["disconnect", UNIT],
    ],
)
def test_bad_connections_are_refused(args: list[str]) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("department", *args, stdout=io.StringIO())
