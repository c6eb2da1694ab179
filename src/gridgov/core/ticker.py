"""The ticker: one loop that runs the platform's clock jobs.

Jobs are plain functions registered here by the apps (SLA and escalation jobs arrive with the
events app). Each job must be safe with several tickers running: it changes rows only by
compare-and-set, so two tickers never do the same work twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.db import close_old_connections
from django.utils import timezone

from .models import Heartbeat

log = logging.getLogger(__name__)

Job = Callable[[datetime], int]
JOBS: dict[str, Job] = {}


def job(name: str) -> Callable[[Job], Job]:
    def register(fn: Job) -> Job:
        JOBS[name] = fn
        return fn

    return register


@job("audit_anchor")
def audit_anchor(now: datetime) -> int:
    """Copy the audit chain's head where the database's writer cannot rewrite it (anchors.py)."""
    from . import anchors

    return anchors.write(now)


def tick(now: datetime | None = None) -> dict[str, int]:
    """Run every job once; a failing job is logged and does not stop the others."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    for name, fn in JOBS.items():
        try:
            done[name] = fn(now)
        except Exception:
            log.exception("ticker job %s failed", name)
            done[name] = -1
    Heartbeat.objects.update_or_create(
        name="ticker", defaults={"beat_at": timezone.now(), "detail": done}
    )
    return done


def run_forever(interval: float, max_ticks: int | None = None) -> None:
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        started = time.monotonic()
        close_old_connections()
        tick()
        ticks += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


@job("outbox")
def deliver_outbox(now: datetime) -> int:
    from .outbox import deliver_due

    return deliver_due(now)
