"""The ticker's deadline job: every event whose alarm has rung is warned (yellow) or, past its
deadline, marked overdue (red) and escalated — through the engine, like any other action, in
batches: one transaction per batch of due events, one compare-and-set per event."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from django.db import transaction

from gridgov.core.errors import Conflict
from gridgov.core.ticker import job

from . import services
from .models import Event
from .sla import BATCH, MAX_PER_TICK, lock_due

log = logging.getLogger(__name__)


@job("sla")
def tick_deadlines(now: datetime) -> int:
    """Warn (yellow) or escalate (red) every event whose alarm has rung."""
    done = 0
    while done < MAX_PER_TICK:
        with transaction.atomic():  # one durable commit per batch
            batch = lock_due(now)
            acted = ring(batch, now)
        done += acted
        if len(batch) < BATCH or acted == 0:
            break  # nothing more is due, or what is left could not be flipped this tick
    return done


def ring(events: list[Event], now: datetime) -> int:
    """Warn or escalate ``events``, read in the caller's transaction, as one batch. If the
    batch fails (an event changed since it was read, or one event's handler fails), nothing of
    it is written and the events are taken one by one instead, each under its own savepoint,
    so one bad event never holds the others' deadlines back."""
    ids = [e.pk for e in events]
    try:
        with transaction.atomic():
            return _ring_batch(events, now)
    except Exception as exc:
        log.info("deadline batch of %d taken one by one: %r", len(ids), exc)
    return sum(_ring_one(pk, now) for pk in ids)


def _ring_batch(events: list[Event], now: datetime) -> int:
    rung = [e for e in events if e.alarm_at is not None and e.alarm_at <= now]
    late = [e for e in rung if e.due_at is not None and e.due_at <= now]
    soon = [e for e in rung if not (e.due_at is not None and e.due_at <= now)]
    acted = services.do_ticker_batch(late, "overdue")
    acted += services.do_ticker_batch(soon, "warn")
    return len(acted)


def _ring_one(pk: UUID, now: datetime) -> int:
    try:
        with transaction.atomic():
            fresh = list(Event.objects.select_related("receiving_centre").filter(pk=pk))
            return _ring_batch(fresh, now)
    except Conflict:
        return 0  # changed meanwhile: the next tick looks again
    except Exception:
        log.exception("the deadline of event %s could not be rung", pk)
        return 0
