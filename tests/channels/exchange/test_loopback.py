"""Two gridgov instances on loopback: this test process is the city (the child, on the test
database), a gunicorn on its own SQLite database is the province (the parent). The parent is
killed mid-stream and restarted; the child crashes between the parent's commit and its own
mark; the whole stream is replayed. The parent ends with every item exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from gridgov.channels.exchange import queries, sender
from gridgov.channels.exchange.models import SendState
from gridgov.core import outbox
from gridgov.core.models import Outbox
from gridgov.events import services
from gridgov.events.services import Input
from tests import eventbuilder as eb

from .parent import Parent

pytestmark = pytest.mark.django_db
NODE = "130100"
EVENTS = 20  # through the engine: created, accepted, dispatched (3 items each)
TOTAL = 300


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[Parent]:
    p = Parent(tmp_path)
    p.migrate()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def child(settings: Any, parent: Parent) -> Parent:
    secret = parent.command("exchange", "node", "add", NODE).strip().splitlines()[-1]
    settings.EXCHANGE_PARENT_URL = parent.url
    settings.EXCHANGE_NODE = NODE
    settings.EXCHANGE_SECRET = secret
    settings.EXCHANGE_BATCH = 20
    settings.EXCHANGE_BATCHES_PER_TICK = 1  # one batch per call: the test walks the stream
    settings.EXCHANGE_BACKOFF_MAX = 30
    return parent


def make_items(n_events: int, n_direct: int, tag: str) -> None:
    for _ in range(n_events):
        e = eb.new_event()
        services.act(e.pk, "accept", eb.op(), Input())
        services.act(e.pk, "dispatch", eb.op(), Input())
    with transaction.atomic():  # the rest straight into the outbox, as a change would
        for n in range(n_direct):
            outbox.enqueue(
                "event.changed",
                "parent",
                {"event": {"code": f"{tag}{n:04d}"}, "change": {"to": "registered"}},
                channel=Outbox.Channel.EXCHANGE,
                key=f"exchange:test:{tag}:{n}",
            )


def pending() -> int:
    return Outbox.objects.filter(channel=Outbox.Channel.EXCHANGE, delivered_at__isnull=True).count()


class Calls:
    """Counts the child's requests; kills the parent just before the n-th one."""

    def __init__(self, parent: Parent, kill_before: int) -> None:
        self.n, self.parent, self.kill_before, self.real = 0, parent, kill_before, sender.post

    def __call__(self, body: bytes) -> dict[str, Any]:
        self.n += 1
        if self.n == self.kill_before:
            self.parent.kill()
        return self.real(body)


def drain(now: datetime, limit: int = 100) -> datetime:
    """Push until nothing is left, the clock moving on past any backoff."""
    for _ in range(limit):
        if pending() == 0:
            return now
        sender.push(now)
        now += timedelta(seconds=31)
    raise AssertionError(f"still {pending()} items queued: {queries.backlog()}")


def test_every_item_reaches_the_parent_exactly_once(child: Parent, monkeypatch: Any) -> None:
    parent = child
    make_items(EVENTS, TOTAL - 3 * EVENTS - 40, "A")
    assert pending() == TOTAL - 40
    parent.start()
    calls = Calls(parent, kill_before=5)
    monkeypatch.setattr(sender, "post", calls)
    now = timezone.now()
    for _ in range(4):
        assert sender.push(now) == 20
    assert len(parent.items()) == 80

    # The parent dies; the child's request fails, then waits 5 s, 10 s, 20 s, 30 s, 30 s...
    assert sender.push(now) == 0
    state = SendState.objects.get()
    assert state.failures == 1 and state.retry_at == now + timedelta(seconds=5)
    assert f"127.0.0.1:{parent.port}" in state.last_error  # refused, or reset by the dying one
    made = calls.n
    assert sender.push(now + timedelta(seconds=4)) == 0
    assert calls.n == made  # backing off: no request at all
    for wait in (5, 10, 20, 30):
        now = SendState.objects.get().retry_at
        sender.push(now)
        assert SendState.objects.get().retry_at == now + timedelta(seconds=min(wait * 2, 30))
    make_items(0, 40, "B")  # the city goes on working meanwhile
    backlog = queries.backlog()
    assert backlog["undelivered"] == TOTAL - 80
    assert backlog["last_error"] and backlog["acked_seq"] == 80

    # Restarted on the same database and port: the stream resumes where it was confirmed.
    parent.start()
    now = SendState.objects.get().retry_at
    assert sender.push(now) == 20
    assert SendState.objects.get().failures == 0

    # The child crashes after the parent committed a batch, before marking it delivered.
    class Crash(Exception):
        pass

    def crash(batch: Any, answer: dict[str, Any]) -> int:
        assert answer["stored"] == len(batch)
        raise Crash

    monkeypatch.setattr(sender, "acknowledge", crash)
    with pytest.raises(Crash):
        sender.push(now)
    monkeypatch.undo()
    assert len(parent.items()) == 120  # stored at the parent, unmarked at the child
    assert sender.push(now) == 20  # sent again: duplicates at the parent, now marked
    drain(now)

    received = parent.items()
    assert len(received) == TOTAL
    assert len({r[0] for r in received}) == TOTAL
    assert [r[1] for r in received] == list(range(1, TOTAL + 1))
    sent = set(Outbox.objects.filter(channel=Outbox.Channel.EXCHANGE).values_list("pk", flat=True))
    assert {r[0] for r in received} == sent
    assert {r[2] for r in received} == {"event.created", "event.changed"}
    status = parent.command("exchange", "status")
    assert f"{NODE}" in status and f"items {TOTAL}  last seq {TOTAL}  missing 0" in status

    # The whole stream replayed (the child restored from a backup): nothing new is stored.
    Outbox.objects.filter(channel=Outbox.Channel.EXCHANGE).update(delivered_at=None)
    SendState.objects.update(acked_seq=0)
    drain(now)
    assert len(parent.items()) == TOTAL
    assert SendState.objects.get().acked_seq == TOTAL
