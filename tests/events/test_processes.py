"""Behaviour across connections and processes, on committed data: two operators dispatching at
once, concurrent replays of one report, and a ticker process started after the deadline.

These tests commit for real (no test transaction), then delete what they made."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from gridgov.core.errors import Conflict
from gridgov.core.models import Notification, Outbox
from gridgov.events import handlers, services
from gridgov.events.intake import Intake, Report, do_intake
from gridgov.events.models import Event

from ..eventbuilder import GRID8, in_state, op
from ..helpers import point_in


@pytest.fixture
def committed(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    name = str(connection.settings_dict["NAME"])
    assert "test" in name, f"refusing to commit test data into {name}"
    with django_db_blocker.unblock():
        started = timezone.now()
        yield
        Event.objects.filter(reported_at__gte=started).delete()
        Outbox.objects.filter(created_at__gte=started).delete()
        Notification.objects.filter(created_at__gte=started).delete()


def run_together(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) in n threads at once; returns results or exceptions, in order."""
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_simultaneous_dispatches_one_wins(
    committed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = in_state("registered")
    barrier = threading.Barrier(2)
    original = handlers.HANDLERS["dispatch"]

    def dispatch_after_both_have_read(ctx: Any) -> None:
        # Both operators have loaded the event; now both try to write. (On SQLite the second
        # cannot begin before the first commits, so the barrier times out and that is fine.)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        original(ctx)

    monkeypatch.setitem(handlers.HANDLERS, "dispatch", dispatch_after_both_have_read)
    results = run_together(2, lambda i: services.act(event.pk, "dispatch", op()))
    wins = [r for r in results if isinstance(r, Event)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    fresh = Event.objects.get(pk=event.pk)
    assert fresh.state == "dispatched" and fresh.timeline.filter(action="dispatch").count() == 1


def test_concurrent_replays_make_one_event(committed: None) -> None:
    lon, lat = point_in(GRID8)
    report = Report(channel="web", title="并发", description="同一份上报", lon=lon, lat=lat)
    key = str(uuid.uuid4())
    results = run_together(3, lambda i: do_intake(report, key))
    ids = {r.event.pk for r in results if isinstance(r, Intake)}
    assert len(ids) == 1, results
    assert sum(1 for r in results if isinstance(r, Intake) and r.created) == 1  # one creation
    assert Event.objects.filter(client_id=key).count() == 1
    assert len({r.receipt["reporter_secret"] for r in results if isinstance(r, Intake)}) == 1


def test_a_ticker_process_started_after_the_deadline_escalates(committed: None) -> None:
    event = in_state("dispatched")
    past = timezone.now() - timedelta(minutes=1)
    Event.objects.filter(pk=event.pk).update(due_at=past, alarm_at=past)
    env = {**os.environ, "GRIDGOV_DATA_DIR": str(settings.DATA_DIR)}  # this test's own
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        env.update(GRIDGOV_DB="sqlite", GRIDGOV_SQLITE_PATH=name)
    else:
        env.update(GRIDGOV_DB="postgres", GRIDGOV_PG_NAME=name)
    out = subprocess.run(
        [sys.executable, "-m", "gridgov", "ticker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'sla': 1" in out.stdout
    assert (settings.DATA_DIR / "audit-anchors.log").exists()  # the anchors stayed in the test
    fresh = Event.objects.get(pk=event.pk)
    assert fresh.supervision == "red" and fresh.handling_level == "county"
