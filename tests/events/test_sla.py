"""The ticker's deadline jobs: yellow before, red and escalation after, once with two tickers,
and nothing lost across a restart (deadlines live in the database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from gridgov.core import ticker, workcal
from gridgov.core.models import Outbox
from gridgov.events import alarms, services, sla
from gridgov.events.models import Event, TimelineEntry
from gridgov.regions import locator

from ..eventbuilder import in_state

pytestmark = pytest.mark.django_db


def test_yellow_before_the_deadline_then_red_and_escalation_after() -> None:
    event = in_state("in_progress")  # 0202: 2 hours on the clock
    assert event.due_at is not None and event.warn_at is not None
    with time_machine.travel(event.warn_at + timedelta(seconds=1)):
        assert ticker.tick()["sla"] == 1
    event.refresh_from_db()
    assert event.supervision == "yellow" and event.handling_level == "township"
    assert event.timeline.filter(action="warn").exists()
    assert Outbox.objects.filter(
        topic="event.due_soon", recipient=f"grid:{event.grid_code}"
    ).exists()
    with time_machine.travel(event.due_at + timedelta(seconds=1)):
        assert ticker.tick()["sla"] == 1
        assert ticker.tick()["sla"] == 0  # done once, not every tick
    event.refresh_from_db()
    assert event.supervision == "red" and event.overdue_count == 1
    assert event.handling_level == "county" and event.receiving_centre.code == "C130104"
    assert Outbox.objects.filter(topic="event.overdue", recipient="unit:C130104").exists()


def test_nothing_fires_early() -> None:
    event = in_state("dispatched")
    with time_machine.travel(event.warn_at - timedelta(seconds=1)):  # type: ignore[operator]
        assert ticker.tick()["sla"] == 0


def test_escalation_needs_nothing_but_the_database() -> None:
    """In-process state is thrown away before the deadline passes (a real process restart is
    tested in test_processes.py)."""
    event = in_state("dispatched")
    due = event.due_at
    assert due is not None
    locator.invalidate()
    workcal.invalidate()
    with time_machine.travel(due + timedelta(minutes=5)):
        done = ticker.tick()
    assert done["sla"] == 1
    event = Event.objects.get(pk=event.pk)
    assert event.supervision == "red" and event.handling_level == "county"


def test_two_tickers_act_once() -> None:
    """A second ticker that read the same due list acts on nothing the first already did."""
    event = in_state("dispatched")
    with time_machine.travel(event.due_at + timedelta(seconds=1)):  # type: ignore[operator]
        stale = list(Event.objects.filter(pk=event.pk))  # what ticker B read before A ran
        assert ticker.tick()["sla"] == 1  # ticker A
        assert alarms.ring(stale, timezone.now()) == 0  # ticker B with its stale rows
    assert Event.objects.get(pk=event.pk).overdue_count == 1
    assert Event.objects.get(pk=event.pk).timeline.filter(action="overdue").count() == 1


def test_the_due_query_uses_the_alarm_index() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:  # a tiny test table would be seq-scanned anyway
            cur.execute("SET LOCAL enable_seqscan = off")
    plan = sla.due_query(timezone.now())[: sla.BATCH].explain()
    assert "event_alarm_idx" in plan, plan


def test_suspended_events_do_not_ring() -> None:
    event = in_state("suspended")
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        assert ticker.tick()["sla"] == 0
    assert Event.objects.get(pk=event.pk).supervision == ""


def test_outbox_delivers_in_app_notifications_once() -> None:
    from gridgov.core.models import Notification

    in_state("dispatched")
    ticker.tick()
    pending = Outbox.objects.filter(delivered_at__isnull=True).count()
    assert pending == 0
    n = Notification.objects.count()
    assert n > 0
    Outbox.objects.update(delivered_at=None)  # as if the ticker crashed before marking
    ticker.tick()
    assert Notification.objects.count() == n  # receivers dedup by message id


def test_event_deadlines_cross_the_weekend_national_day_and_a_make_up_saturday() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gridgov.events import services

    from ..eventbuilder import new_event, op, worker

    cst = ZoneInfo("Asia/Shanghai")
    # a neighbour dispute (0801, 3 working days) signed for on the eve of National Day
    with time_machine.travel(datetime(2026, 9, 30, 15, 0, tzinfo=cst), tick=False):
        e = new_event(category="0801")
        services.act(e.pk, "accept", op())
        services.act(e.pk, "dispatch", op())
    with time_machine.travel(datetime(2026, 9, 30, 16, 0, tzinfo=cst), tick=False):
        e = services.act(e.pk, "sign", worker())
    # 1.5 h on 30 Sep, 1–7 Oct off, 8 and 9 Oct, then the make-up Saturday 10 Oct
    assert e.due_at == datetime(2026, 10, 10, 16, 0, tzinfo=cst)
    # exposed rubbish (0101, 4 working hours) signed for on a Friday afternoon
    with time_machine.travel(datetime(2026, 11, 20, 16, 30, tzinfo=cst), tick=False):
        e = new_event(category="0101")
        services.act(e.pk, "accept", op())
        e = services.act(e.pk, "dispatch", op(), services.Input(target_grid=e.grid_code))
        e = services.act(e.pk, "sign", worker())
    assert e.due_at == datetime(2026, 11, 23, 11, 30, tzinfo=cst)  # Monday


def test_a_batch_with_one_changed_event_is_taken_again_one_by_one() -> None:
    """The ticker's batch is one transaction: an event changed since it was read (an action
    won) makes the batch write nothing, not a half; the events are then read afresh and rung
    one by one, each once."""
    events = [in_state("dispatched") for _ in range(3)]
    late = max(e.due_at for e in events if e.due_at) + timedelta(seconds=1)
    with time_machine.travel(late):
        read = list(Event.objects.filter(pk__in=[e.pk for e in events]).order_by("pk"))
        Event.objects.filter(pk=read[1].pk).update(version=read[1].version + 1)  # it moved on
        assert alarms.ring(read, timezone.now()) == 3
        assert ticker.tick()["sla"] == 0
    for e in events:
        assert Event.objects.get(pk=e.pk).supervision == "red"
        assert TimelineEntry.objects.filter(event=e, action="overdue").count() == 1


def test_one_event_that_cannot_be_rung_does_not_hold_back_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gridgov.events import handlers

    events = [in_state("dispatched") for _ in range(3)]
    poison = events[1].pk
    real = handlers.on_overdue

    def on_overdue(ctx: Any) -> None:
        if ctx.obj.pk == poison:
            raise RuntimeError("a bad row")
        real(ctx)

    monkeypatch.setitem(services.EVENTS.handlers, "overdue", on_overdue)
    late = max(e.due_at for e in events if e.due_at) + timedelta(seconds=1)
    with time_machine.travel(late):
        assert ticker.tick()["sla"] == 2
    assert Event.objects.get(pk=poison).supervision == ""
    assert Event.objects.filter(pk__in=[events[0].pk, events[2].pk], supervision="red").count() == 2
