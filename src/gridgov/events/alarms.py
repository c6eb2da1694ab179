"""The ticker's deadline job: every event whose alarm has rung is warned (yellow) or, past its
deadline, marked overdue (red) and escalated — through the engine, like any other action, in
batches: one transaction per batch of due events, one compare-and-set per event."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridgov.core.errors import Conflict
from gridgov.core.ticker import job

from . import services
from .models import Event
from .sla import BATCH, MAX_PER_TICK, lock_due


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
    """Warn or escalate ``events``, read in the caller's transaction. If one of them changed
    since it was read, none is written (the next tick reads them again)."""
    rung = [e for e in events if e.alarm_at is not None and e.alarm_at <= now]
    late = [e for e in rung if e.due_at is not None and e.due_at <= now]
    soon = [e for e in rung if not (e.due_at is not None and e.due_at <= now)]
    try:
        with transaction.atomic():
            acted = services.do_ticker_batch(late, "overdue")
            acted += services.do_ticker_batch(soon, "warn")
    except Conflict:
        return 0
    return len(acted)
