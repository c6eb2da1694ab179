"""Issue 12: live notices to open consoles as server-sent events, from `gridgov stream` (a real
process on the test database), with signed tickets, resumption by Last-Event-ID, and many
consoles held as idle sockets."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from gridgov.accounts import notifications
from gridgov.accounts.models import User
from gridgov.bench.webserver import free_port
from gridgov.core.models import Notification

from ...live import test_db_env as db_env

PER_USER = 5


@pytest.fixture(scope="module")
def stream(django_db_setup: Any, django_db_blocker: Any) -> Iterator[int]:
    """`gridgov stream` on the test database, polling every 0.2 s."""
    port = free_port()
    with django_db_blocker.unblock():
        env = db_env(
            GRIDGOV_STREAM_POLL_SECONDS="0.2",
            GRIDGOV_STREAM_RECHECK_SECONDS="0.5",
            GRIDGOV_STREAM_PER_USER=str(PER_USER),
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridgov", "stream", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert "listening" in line, line
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def notices(django_db_blocker: Any) -> Iterator[Any]:
    """Make committed notices (the stream is another process); removed afterwards."""
    made: list[int] = []

    def make(recipient: str, code: str) -> int:
        with django_db_blocker.unblock():
            n = Notification.objects.create(
                outbox_id=uuid.uuid4(),
                recipient=recipient,
                topic="event.dispatched",
                payload={"code": code, "title": "占道经营"},
                created_at=timezone.now(),
            )
        made.append(n.pk)
        return int(n.pk)

    yield make
    with django_db_blocker.unblock():
        Notification.objects.filter(pk__in=made).delete()


@pytest.fixture
def people(django_db_blocker: Any) -> Iterator[Any]:
    """Make committed people with no posts (their one address is user:<id>); removed after."""
    made: list[int] = []

    def make(n: int = 1) -> list[User]:
        with django_db_blocker.unblock():
            new = [
                User.objects.create(username=f"stream-{uuid.uuid4().hex[:12]}") for _ in range(n)
            ]
        made.extend(u.pk for u in new)
        return new

    yield make
    with django_db_blocker.unblock():
        User.objects.filter(pk__in=made).delete()


def _ticket(user: User, *extra: str) -> str:
    body = {"u": user.pk, "a": [f"user:{user.pk}", *extra]}
    return signing.dumps(body, salt=notifications.TICKET_SALT, compress=True)


def _me(user: User) -> str:
    return f"user:{user.pk}"


class Sse:
    """A console's EventSource, reduced: open, then read events."""

    def __init__(self, port: int, ticket: str, last_id: int | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
        self.sock.sendall(
            f"GET /stream?ticket={ticket} HTTP/1.1\r\nHost: x\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n".encode()
        )
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.headers = head.decode("latin-1").lower()

    def _until(self, mark: bytes) -> bytes:
        while mark not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        found, self.buf = self.buf.split(mark, 1)
        return found

    def event(self) -> dict[str, Any]:
        """The next notice (pings and the retry line skipped)."""
        while True:
            block = self._until(b"\n\n").decode()
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if fields.get("event") == "notice":
                return {"id": int(fields["id"]), **json.loads(fields["data"])}

    def close(self) -> None:
        self.sock.close()


def test_a_console_gets_its_own_notices_live_and_no_one_elses(
    stream: int, notices: Any, people: Any
) -> None:
    me, someone = people(2)
    sse = Sse(stream, _ticket(me))
    assert sse.status == 200 and "text/event-stream" in sse.headers
    time.sleep(0.5)  # the stream has polled once with this console connected
    notices(_me(someone), "SJZ-OTHER")
    mine = notices(_me(me), "SJZ-MINE")
    got = sse.event()
    assert got["id"] == mine and got["code"] == "SJZ-MINE" and got["subject"]
    sse.close()


def test_a_console_that_reconnects_gets_what_it_missed(
    stream: int, notices: Any, people: Any
) -> None:
    [me] = people()
    sse = Sse(stream, _ticket(me))
    time.sleep(0.5)
    first = notices(_me(me), "SJZ-1")
    assert sse.event()["id"] == first
    sse.close()
    second = notices(_me(me), "SJZ-2")  # while the console was away
    time.sleep(0.5)
    again = Sse(stream, _ticket(me), last_id=first)
    assert again.event()["id"] == second
    third = notices(_me(me), "SJZ-3")
    assert again.event()["id"] == third  # and nothing twice
    again.close()


def test_hundreds_of_open_consoles_are_idle_sockets_in_one_process(
    stream: int, notices: Any, people: Any
) -> None:
    crowd = people(60)
    consoles = [(u, Sse(stream, _ticket(u))) for u in crowd for _ in range(PER_USER)]
    assert {c.status for _, c in consoles} == {200}
    time.sleep(0.5)
    sent = {u.pk: notices(_me(u), f"SJZ-{u.pk}") for u in crowd}
    assert all(c.event()["id"] == sent[u.pk] for u, c in consoles)
    health = http.client.HTTPConnection("127.0.0.1", stream, timeout=5)
    health.request("GET", "/health")
    assert health.getresponse().read().decode() == "ok 300"
    for _, c in consoles:
        c.close()


@pytest.mark.parametrize(
    "target",
    [
        "/stream",
        "/stream?ticket=",
        "/stream?ticket=forged",
        "/stream?ticket=" + signing.dumps({"u": 1, "a": ["user:1"]}, salt="x"),  # not ours
    ],
)
def test_a_console_without_a_good_ticket_is_refused(stream: int, target: str) -> None:
    c = http.client.HTTPConnection("127.0.0.1", stream, timeout=5)
    c.request("GET", target)
    assert c.getresponse().status == 401


def test_an_expired_ticket_is_refused(stream: int, people: Any) -> None:
    [me] = people()
    with time_machine.travel(time.time() - 7200):
        old = _ticket(me)
    c = http.client.HTTPConnection("127.0.0.1", stream, timeout=5)
    c.request("GET", f"/stream?ticket={old}")
    assert c.getresponse().status == 401


def test_other_requests_get_clear_answers(stream: int) -> None:
    for method, path, status in [("GET", "/", 404), ("POST", "/stream", 405)]:
        c = http.client.HTTPConnection("127.0.0.1", stream, timeout=5)
        c.request(method, path)
        assert c.getresponse().status == status
    raw = socket.create_connection(("127.0.0.1", stream), timeout=5)
    raw.sendall(b"GARBAGE\r\n\r\n")
    assert raw.recv(100).startswith(b"HTTP/1.1 400")
    raw.close()
    huge = socket.create_connection(("127.0.0.1", stream), timeout=5)
    huge.sendall(b"GET /stream?" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
    assert huge.recv(100).startswith(b"HTTP/1.1 400")
    huge.close()


@pytest.mark.django_db
def test_a_persons_ticket_names_their_addresses_and_the_console_hands_it_out() -> None:
    from ...eventbuilder import worker
    from ...helpers import client

    w = worker()
    found = notifications.read_ticket(notifications.ticket(w))
    assert found is not None and found["a"] == notifications.addresses_of(w)
    assert any(a.startswith("grid:") for a in found["a"])
    r = client(w).get("/console/notices/ticket/")
    assert r.status_code == 200 and "/stream?ticket=" in r.json()["url"]
    from django.test import Client

    assert Client().get("/console/notices/ticket/").status_code == 401


def test_a_ticket_naming_more_than_the_persons_addresses_is_refused(
    stream: int, people: Any
) -> None:
    [me] = people()
    c = http.client.HTTPConnection("127.0.0.1", stream, timeout=5)
    c.request("GET", "/stream?ticket=" + _ticket(me, "unit:C130104"))
    assert c.getresponse().status == 401


def test_a_deactivated_persons_open_stream_is_closed_and_the_ticket_dies(
    stream: int, people: Any, django_db_blocker: Any
) -> None:
    [me] = people()
    ticket = _ticket(me)
    sse = Sse(stream, ticket)
    assert sse.status == 200
    with django_db_blocker.unblock():
        User.objects.filter(pk=me.pk).update(is_active=False)
    with pytest.raises(EOFError):
        sse.event()  # closed at the next check (0.5 s here, 30 s by default)
    again = http.client.HTTPConnection("127.0.0.1", stream, timeout=5)
    again.request("GET", f"/stream?ticket={ticket}")
    assert again.getresponse().status == 401


def test_one_person_holds_at_most_a_few_streams_the_oldest_closes(stream: int, people: Any) -> None:
    [me] = people()
    first = Sse(stream, _ticket(me))
    rest = [Sse(stream, _ticket(me)) for _ in range(PER_USER)]
    assert first.status == 200 and {c.status for c in rest} == {200}
    with pytest.raises(EOFError):
        first.event()  # the oldest made room for the newest
    for c in rest:
        c.close()


def test_a_strange_last_event_id_is_ignored(stream: int, notices: Any, people: Any) -> None:
    [me] = people()
    sse = Sse(stream, _ticket(me), last_id="\u00b2")  # type: ignore[arg-type]
    assert sse.status == 200
    time.sleep(0.5)
    sent = notices(_me(me), "SJZ-X")
    assert sse.event()["id"] == sent
