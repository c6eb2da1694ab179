"""Group commit's bulk intake (ADR 0017): a batch of reports is written with a few multi-row
statements whatever its size, each report gets its own answer, case number and audit row, and
a report that fails in a batch fails alone."""

from __future__ import annotations

import contextvars
import json
import uuid
from concurrent.futures import Future
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from gridgov.core import audit, groupcommit, sql
from gridgov.core.models import AuditLog, IdempotencyRecord, Outbox
from gridgov.core.verify import verify
from gridgov.events import intake
from gridgov.events.models import Event, TimelineEntry

from .. import personas
from ..eventbuilder import GRID8
from ..helpers import point_in

pytestmark = pytest.mark.django_db


def _ready(actor: Any, key: str | None = None, title: str = "占道经营") -> intake.Prepared:
    lon, lat = point_in(GRID8)
    report = intake.Report(
        channel="app", title=title, description="店外经营", lon=lon, lat=lat, category="0201"
    )
    key = key or str(uuid.uuid4())
    owner = f"user:{actor.pk}"
    return intake._prepare(report, key, report.fingerprint(), actor, owner)


def _item(actor: Any, address: str, **kw: Any) -> groupcommit._Item:
    """A report as run_grouped queues it, from a request whose client address is ``address``
    (the request's context: what the core middleware sets)."""
    context = contextvars.copy_context()
    context.run(audit.current_source_ip.set, address)
    ready = context.run(_ready, actor, **kw)
    return groupcommit._Item(
        lambda: intake._create_many([ready])[0],
        context,
        Future(),
        intake._create_many,
        ready,
    )


def _statements(queries: list[dict[str, Any]]) -> list[str]:
    skip = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT", "SET ")
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(skip)]


def test_a_batch_is_written_in_as_many_statements_as_one_report() -> None:
    actor = personas.township_operator()
    alone = [_item(actor, "10.0.0.1")]
    batch = [_item(actor, f"10.0.0.{i}") for i in range(2, 8)]
    with CaptureQueriesContext(connection) as one:
        groupcommit.write(alone)
    with CaptureQueriesContext(connection) as six:
        groupcommit.write(batch)
    assert len(_statements(six.captured_queries)) == len(_statements(one.captured_queries))

    receipts = [item.future.result(timeout=0).receipt for item in batch]
    codes = [r["code"] for r in receipts]
    numbers = [int(c[-6:]) for c in codes]
    assert numbers == list(range(numbers[0], numbers[0] + 6))  # consecutive, in batch order
    for item, receipt in zip(batch, receipts, strict=True):
        event = Event.objects.get(pk=receipt["id"])
        assert event.code == receipt["code"] and event.client_id == item.arg.event.client_id
        assert TimelineEntry.objects.filter(event=event, seq=1, action="report").count() == 1
        kept = IdempotencyRecord.objects.get(key=event.client_id)
        assert json.loads(kept.response)["code"] == receipt["code"]
        assert Outbox.objects.filter(topic="event.new", payload__code=event.code).count() == 1
        row = AuditLog.objects.get(action="event.report", object_id=str(event.pk))
        assert row.source_ip == item.context.run(audit.current_source_ip.get)  # its own
    assert verify() == []  # the rows appended together link into the chain like any others


def test_a_report_that_fails_in_a_batch_fails_alone() -> None:
    actor = personas.township_operator()
    taken = str(uuid.uuid4())
    items = [
        _item(actor, "10.0.1.1", key=taken),
        _item(actor, "10.0.1.2", key=taken, title="另一件事"),  # its answer cannot be kept
        _item(actor, "10.0.1.3"),
    ]
    groupcommit.write(items)
    assert items[0].future.result(timeout=0).created
    assert items[2].future.result(timeout=0).created
    with pytest.raises(IntegrityError):  # do_intake answers it from the first report's record
        items[1].future.result(timeout=0)
    assert Event.objects.filter(client_id=taken).count() == 1
    assert not Event.objects.filter(title="另一件事").exists()
    assert verify() == []


def test_the_writer_gets_the_rows_worked_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer holds the database's one writer lock (on PostgreSQL, the writers' advisory
    lock): it fills in the case numbers, and converts no event or timeline field itself."""
    actor = personas.township_operator()
    batch = [_item(actor, f"10.0.2.{i}") for i in range(3)]
    converted: list[type] = []
    row_values = sql.row_values

    def counted(obj: Any, with_pk: bool) -> list[Any]:
        converted.append(type(obj))
        return row_values(obj, with_pk)

    monkeypatch.setattr(sql, "row_values", counted)
    groupcommit.write(batch)
    assert converted and Event not in converted and TimelineEntry not in converted
    for item in batch:
        event = Event.objects.get(pk=item.future.result(timeout=0).receipt["id"])
        assert event.code == item.arg.event.code and event.title == "占道经营"
        assert TimelineEntry.objects.filter(event=event, seq=1).count() == 1
    assert verify() == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL plans by its statistics")
def test_the_duplicate_search_reads_only_the_reports_nearby(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By (category, reported_at) a burst in one category read every report of the last day:
    19 % of intake's time at 3,000 of them. SQLite's planner, with or without statistics,
    takes (category, lat, lon)."""
    seen: list[tuple[str, list[Any]]] = []
    fetch = sql.fetch

    def kept(statement: str, params: Any) -> Any:
        seen.append((statement, list(params)))
        return fetch(statement, params)

    monkeypatch.setattr(sql, "fetch", kept)
    _ready(personas.township_operator())
    (statement, params), *_ = [s for s in seen if "category_id = %s" in s[0]]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + statement, params)
        plan = " | ".join(str(row[-1]) for row in cur.fetchall())
    assert "event_nearby_idx" in plan, plan


def _written_table(query: Any) -> str:
    """The table an INSERT or UPDATE writes; any other statement by its first word."""
    import re

    text = str(query)
    found = re.match(r'\s*(?:INSERT INTO|UPDATE)\s+"?(\w+)', text)
    return found.group(1) if found else text.split()[0].upper()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pipeline mode")
def test_a_batch_reaches_postgresql_in_two_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the writers' lock a batch sends its statements in two pipelines: what the writes
    wait for (the case numbers, the audit chain's places), then every write. One after another
    they were eight round trips, each a wait for the GIL once answered."""
    import psycopg
    from psycopg.pq import PipelineStatus

    sent: list[tuple[str, Any]] = []  # (table, the pipeline it was sent in, or None)

    def recorded(cls: Any, method: str) -> None:
        real = getattr(cls, method)

        def run(cur: Any, query: Any, *a: Any, **kw: Any) -> Any:
            piped = cur.connection.pgconn.pipeline_status != PipelineStatus.OFF
            sent.append((_written_table(query), cur.connection._pipeline if piped else None))
            return real(cur, query, *a, **kw)

        monkeypatch.setattr(cls, method, run)

    actor = personas.township_operator()
    batch = [_item(actor, f"10.0.3.{i}") for i in range(3)]
    for cls in (psycopg.Cursor, psycopg.ClientCursor):
        recorded(cls, "execute")
        recorded(cls, "executemany")
    groupcommit.write(batch)
    assert all(item.future.result(timeout=0).created for item in batch)
    writes = [(t, piped) for t, piped in sent if t not in ("SAVEPOINT", "RELEASE", "SET")]
    assert [t for t, _ in writes] == [
        "events_casecounter",
        "core_audithead",
        "events_event",
        "events_timelineentry",
        "core_outbox",
        "core_auditlog",
        "core_audithead",
        "core_idempotencyrecord",
    ], writes
    first, second = writes[0][1], writes[2][1]
    assert first is not None and second is not None and first is not second, writes
    assert [p for _, p in writes] == [first] * 2 + [second] * 6, writes
    assert verify() == []
