"""The statements a report and a due event cost, counted: a change that makes intake or the
ticker send more fails here (docs/performance.md has the figures and why each is there)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridgov.accounts.models import ApiToken
from gridgov.bench.events import _make_events
from gridgov.core import workcal
from gridgov.core.verify import verify
from gridgov.events.alarms import tick_deadlines
from gridgov.events.models import Event, TimelineEntry

from .. import personas
from ..helpers import point_in

pytestmark = pytest.mark.django_db

# Before the transaction: the bad-token counter, the token with its user, the idempotency
# record, the posts with their units, the duplicate search. In it: the case number, the
# event, its timeline row, the centre's notice, the audit head (moved, then given its hash)
# and row, the answer kept for replays.
INTAKE_STATEMENTS = 13
# A tick's statements do not grow with the number of due events: the read, the
# compare-and-set UPDATEs (one executemany: one execution per event), the timeline rows and
# the audit rows (multi-row INSERTs, at most 999 values each on SQLite), the notices (one
# executemany), the audit head twice, and the county centre escalated to (then cached).
TICK_STATEMENTS = 12
# What the database executes per due event: its UPDATE and its two notices (the centre's and
# the assignee's); the rows of the bulk INSERTs come on top, a few statements in all.
TICK_EXECUTIONS_PER_EVENT = 3


def _executions(sql: str) -> int:
    """An executemany is logged once as "<n> times: <statement>"."""
    count, times, _rest = sql.partition(" times: ")
    return int(count) if times and count.isdigit() else 1


def _statements(queries: list[dict[str, Any]]) -> list[str]:
    """What reached the database, leaving out transaction control (the test's own transaction
    turns intake's BEGIN/COMMIT into savepoints)."""
    skip = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(skip)]


def test_a_report_costs_a_fixed_number_of_statements(settings: Any) -> None:
    # as in production: reference data and the grid locator's freshness check are cached
    settings.REFERENCE_CACHE_SECONDS = 300
    settings.LOCATOR_STAMP_TTL = 5
    _, raw = ApiToken.issue(personas.township_operator(), "budget")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    lon, lat = point_in(personas.GRID8)

    def report() -> Any:
        body = {
            "client_id": str(uuid.uuid4()),
            "channel": "app",
            "title": "占道经营",
            "description": "店外经营",
            "lon": lon,
            "lat": lat,
            "category": "0201",
        }
        return client.post("/api/v1/events", json.dumps(body), content_type="application/json")

    workcal.invalidate()  # loaded afresh by the warm-up, not near its 30 s end (a flaky read)
    assert report().status_code == 201  # warms the caches a process keeps
    Event.objects.update(category=None)  # no duplicate to show: the search finds nothing
    with CaptureQueriesContext(connection) as q:
        answer = report()
    assert answer.status_code == 201, answer.content
    sent = _statements(q.captured_queries)
    assert len(sent) <= INTAKE_STATEMENTS, "\n".join(sent)


def test_a_tick_costs_a_fixed_number_of_statements(settings: Any) -> None:
    settings.REFERENCE_CACHE_SECONDS = 300
    due = 120
    _make_events(due, timezone.now() - timedelta(minutes=1))
    tick_deadlines(timezone.now() - timedelta(days=1))  # nothing due yet: warms the caches
    with CaptureQueriesContext(connection) as q:
        done = tick_deadlines(timezone.now())
    assert done == due
    assert TimelineEntry.objects.filter(action="overdue").count() == due
    sent = _statements(q.captured_queries)
    shown = "\n".join(s[:120] for s in sent)
    assert len(sent) <= TICK_STATEMENTS, shown
    executed = sum(_executions(s) for s in sent)
    assert executed <= due * TICK_EXECUTIONS_PER_EVENT + TICK_STATEMENTS, shown
    assert verify() == []  # the rows appended in bulk link into the chain like any others
