"""The ticker: one loop that runs the platform's clock jobs.

Jobs are plain functions registered here by the apps (SLA and escalation jobs arrive with the
events app). Each job must be safe with several tickers running: it changes rows only by
compare-and-set, so two tickers never do the same work twice.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from .models import AuditHead, Heartbeat

log = logging.getLogger(__name__)

Job = Callable[[datetime], int]
JOBS: dict[str, Job] = {}


def job(name: str) -> Callable[[Job], Job]:
    def register(fn: Job) -> Job:
        JOBS[name] = fn
        return fn

    return register


def anchors_path() -> Path:
    return Path(settings.DATA_DIR) / "audit-anchors.log"


@job("audit_anchor")
def audit_anchor(now: datetime) -> int:
    """Copy the audit chain's head outside the database.

    Deleting the newest rows and rewinding the head leaves a chain that is consistent in itself;
    an anchor kept elsewhere (ship this file off the machine) shows that rows are missing.
    """
    head = AuditHead.objects.filter(id=1).first()
    if head is None or head.seq == 0:
        return 0
    path = anchors_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        lines = f.read().splitlines()
        if lines and lines[-1].split(" ")[1] == str(head.seq):
            return 0
        f.write(f"{now.isoformat()} {head.seq} {head.hash}\n")
        f.flush()
    return 1


def read_anchors() -> list[tuple[int, str]]:
    path = anchors_path()
    if not path.exists():
        return []
    anchors = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[1].isdigit():
            anchors.append((int(parts[1]), parts[2]))
    return anchors


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
