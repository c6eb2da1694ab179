"""Step clocks: limits looked up as data, deadlines on the working calendar, and the ticker jobs
that turn supervision yellow before a step runs out and red (with escalation) when it has.

The ticker (``alarms``) reads due events through the partial index on ``alarm_at`` and flips
each through the engine with a compare-and-set on ``version``, so two tickers never act twice
and a restart loses nothing: deadlines live only in the database.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from gridgov.core import outbox, refcache
from gridgov.core.workcal import calendar

from .models import Event, TimeLimit
from .workflow import CLOCKED, STEP_OF_STATE, State

# Due events handled per transaction: each batch holds SQLite's write lock for about 40 ms.
BATCH = 200
MAX_PER_TICK = 20_000  # a tick stops after this many, so one pass never runs unbounded


def find_limit(step: str, category_id: int | None, urgency: str, area_type: str) -> TimeLimit:
    """The most specific limit; urgent falls back to normal when no urgent row exists."""
    return refcache.cached(
        ("limit", step, category_id, urgency, area_type),
        lambda: _find_limit(step, category_id, urgency, area_type),
    )


def _find_limit(step: str, category_id: int | None, urgency: str, area_type: str) -> TimeLimit:
    urgencies = [urgency] if urgency == "normal" else [urgency, "normal"]
    rows = list(
        TimeLimit.objects.filter(step=step, urgency__in=urgencies)
        .filter(Q(category_id=category_id) | Q(category__isnull=True))
        .filter(Q(area_type=area_type) | Q(area_type=""))
    )

    def rank(r: TimeLimit) -> tuple[int, int, int]:
        return (urgencies.index(r.urgency), r.category_id is None, r.area_type == "")

    if not rows:
        raise LookupError(f"no time limit for step {step} ({urgency}); seed the categories")
    return min(rows, key=rank)


def start_step(event: Event, state: State | str, now: datetime) -> None:
    """Set the event's step clock for the state it is entering (in memory; caller saves)."""
    step = STEP_OF_STATE.get(State(state))
    if step is None or State(state) not in CLOCKED | {State.CLOSED}:
        _clear(event)
        return
    limit = find_limit(step, event.category_id, event.urgency, event.area_type)
    _set_clock(event, step, now, float(limit.amount), limit.unit, float(limit.warn_at_share))


def _set_clock(
    event: Event, step: str, now: datetime, amount: float, unit: str, share: float
) -> None:
    cal = calendar()
    event.step, event.step_started_at, event.step_unit = step, now, unit
    event.due_at = cal.add(now, amount, unit)
    event.warn_at = cal.add(now, amount * share, unit)
    event.alarm_at = event.warn_at
    event.paused_remaining = None
    event.supervision = ""


def _clear(event: Event) -> None:
    event.step, event.step_started_at, event.step_unit = "", None, ""
    event.due_at = event.warn_at = event.alarm_at = None


def extend(event: Event, amount: Decimal | float, unit: str) -> None:
    """Move the current deadline later by an approved extension."""
    assert event.due_at is not None
    event.due_at = calendar().add(event.due_at, float(amount), unit)
    event.warn_at = None  # the warning was about the old deadline
    event.alarm_at = event.due_at
    event.supervision = ""


def pause(event: Event, now: datetime) -> None:
    """Suspension stops the clock: keep what was left of the step, in its own unit."""
    assert event.due_at is not None
    event.paused_remaining = calendar().elapsed(now, event.due_at, event.step_unit)
    event.due_at = event.warn_at = event.alarm_at = None


def resume(event: Event, now: datetime) -> None:
    remaining = max(event.paused_remaining or 0.0, 0.0)
    cal = calendar()
    event.due_at = cal.add(now, remaining, event.step_unit)
    event.warn_at = event.due_at
    event.alarm_at = event.due_at
    event.paused_remaining = None


def due_query(now: datetime) -> QuerySet[Event]:
    """What the ticker reads: due events, whole, in alarm order, by a range on the partial
    index ``event_alarm_idx``; on PostgreSQL locked for the reader's transaction, skipping
    rows an action holds (they are read again at the next tick)."""
    return (
        Event.objects.filter(alarm_at__lte=now)
        .order_by("alarm_at")
        .select_related("receiving_centre")
        .select_for_update(skip_locked=True, of=("self",))
    )


def lock_due(now: datetime, limit: int = BATCH) -> list[Event]:
    return list(due_query(now)[:limit])


def notify(
    event: Event,
    topic: str,
    recipient: str,
    extra: dict[str, object] | None = None,
    key: str | None = None,
    channel: str = "inapp",
) -> None:
    payload = {
        "event": str(event.pk),
        "code": event.code,
        "title": event.title,
        "state": event.state,
        **(extra or {}),
    }
    outbox.enqueue(topic, recipient, payload, channel=channel, key=key)
