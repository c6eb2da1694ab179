"""The ticker's deadline job: every event whose alarm has rung is warned (yellow) or, past its
deadline, marked overdue (red) and escalated — through the engine, like any other action."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db import transaction

from gridgov.core.errors import Conflict, ServiceError
from gridgov.core.ticker import job

from . import services
from .models import Event
from .sla import BATCH, COMMIT_EVERY, MAX_PER_TICK, due_ids


@job("sla")
def tick_deadlines(now: datetime) -> int:
    """Warn (yellow) or escalate (red) every event whose alarm has rung."""
    done = seen = 0
    while seen < MAX_PER_TICK:
        batch = due_ids(now)
        progress = done
        for start in range(0, len(batch), COMMIT_EVERY):
            with transaction.atomic():  # one durable commit per chunk, a savepoint per event
                for event_id, version in batch[start : start + COMMIT_EVERY]:
                    done += _ring(event_id, version, now)
        seen += len(batch)
        if len(batch) < BATCH or done == progress:
            break  # nothing more is due, or what is left could not be flipped this tick
    return done


def _ring(event_id: UUID, version: int, now: datetime) -> int:
    with transaction.atomic():
        event = Event.objects.filter(pk=event_id, version=version).first()
        if event is None or event.alarm_at is None or event.alarm_at > now:
            return 0  # another ticker or an action got there first
        overdue = event.due_at is not None and event.due_at <= now
        try:
            (services.do_overdue if overdue else services.do_warn)(event)
        except (Conflict, ServiceError):
            return 0  # changed meanwhile: the next tick looks again
        return 1
