"""core/sql.py: fixed statements store what the ORM would store, and a scoped read compiled once
answers what the ORM answers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridgov.core import crypto, fields, sql
from gridgov.core import scope as core_scope
from gridgov.core.models import AuditLog, IdempotencyRecord, Outbox
from gridgov.events import queries
from gridgov.events.models import Event, TimelineEntry

from .. import personas
from ..eventbuilder import new_event

pytestmark = pytest.mark.django_db


def _plain(field: Any, value: Any) -> Any:
    """A value as compared: encrypted text by its plaintext (each encryption differs), JSON
    wrappers by what they wrap."""
    if isinstance(field, fields.EncryptedTextField) and value:
        return crypto.decrypt(value, field.purpose())
    return getattr(value, "obj", value)


def _same_as_django(obj: Any) -> None:
    with_pk = True
    ours = sql.row_values(obj, with_pk)
    for field, value in zip(sql._fields(type(obj), with_pk), ours, strict=True):
        if getattr(field, "auto_now", False):
            continue  # stamped with the time of each call
        theirs = field.get_db_prep_save(field.pre_save(obj, True), connection)
        assert _plain(field, value) == _plain(field, theirs), field.name
        assert type(value) is type(theirs), field.name


def test_row_values_are_what_save_would_send() -> None:
    event = new_event(reporter_phone="13800001111", reporter_name="张三")
    event.paused_remaining = 3  # an int in a FloatField: converted as the field converts it
    event.overdue_count = True  # a bool in an integer field
    event.due_at = datetime(2026, 11, 28, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    event.rated_at = timezone.now() - timedelta(days=1)
    _same_as_django(event)
    entry = TimelineEntry(event=event, seq=2, at=timezone.now(), action="x", data={"a": [1]})
    _same_as_django(entry)
    _same_as_django(
        AuditLog(at=timezone.now(), action="t", object_id="1", detail={"k": "值"}, seq=1)
    )
    _same_as_django(
        Outbox(id=uuid.uuid4(), topic="t", recipient="r", payload={}, created_at=timezone.now())
    )
    _same_as_django(
        IdempotencyRecord(
            owner="o", operation="p", key="k", request_hash="h", status=201, response="{}"
        )
    )


def test_a_naive_datetime_goes_the_fields_own_way() -> None:
    event = new_event()
    event.rated_at = datetime(2026, 11, 28, 9, 30)
    with pytest.warns(RuntimeWarning):
        _same_as_django(event)


def test_insert_rows_reads_back_auto_keys_in_order() -> None:
    rows = [AuditLog(at=timezone.now(), action=f"t{i}", seq=10_000 + i) for i in range(3)]
    sql.insert_rows(rows)
    assert [AuditLog.objects.get(pk=r.pk).action for r in rows] == ["t0", "t1", "t2"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's binding and cache")
def test_fixed_statements_bind_on_the_server_and_are_split_once() -> None:
    """psycopg splits a statement of more than 50 values at its placeholders on every call
    unless told otherwise; an event's INSERT has 70. Ours are split once, and bound on the
    server (values converted in C, not quoted in Python)."""
    from psycopg import ClientCursor, _queries

    many = "SELECT " + ", ".join(["%s"] * 70)
    before = _queries._query2pg.cache_info()
    for _ in range(3):
        assert sql.fetch(many, list(range(70)))[0] == tuple(range(70))
    assert _queries._query2pg.cache_info().hits - before.hits >= 2
    cursor = sql._raw_cursor(connection)
    assert not isinstance(cursor, ClientCursor)
    cursor.close()


def test_rows_bound_on_the_server_read_back_as_written() -> None:
    event = new_event(reporter_phone="13800001111", reporter_name="张三")
    event.pk, event.code, event.client_id = uuid.uuid4(), "T20261128000001", str(uuid.uuid4())
    event._state.adding = True  # a copy of it, written as a new row
    event.due_at = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    event.lon, event.lat = 114.123456789012, 38.0000001
    sql.insert_rows([event])
    entry = TimelineEntry(
        event=event, seq=1, at=timezone.now(), action="report", data={"a": [1, "二"], "b": None}
    )
    sql.insert_rows([entry])
    stored = Event.objects.get(pk=event.pk)
    assert stored.due_at == event.due_at
    assert (stored.lon, stored.lat) == (event.lon, event.lat)
    assert stored.reporter_phone == "13800001111" and stored.reporter_name == "张三"
    assert TimelineEntry.objects.get(pk=entry.pk).data == {"a": [1, "二"], "b": None}


def test_a_scoped_read_compiled_once_answers_as_the_orm() -> None:
    events = [new_event() for _ in range(3)]
    codes = [e.code for e in events] + ["SJZ00000000000000"]
    operator, outsider = personas.township_operator(), personas.township_operator("130105001")
    for user in (operator, outsider, personas.department_handler()):
        expected = set(
            core_scope.restrict(Event.objects.filter(code__in=codes), user, "view").values_list(
                "code", flat=True
            )
        )
        assert set(queries.visible_codes(user, codes)) == expected
    assert set(queries.visible_codes(operator, codes)) == {e.code for e in events}
    assert queries.visible_codes(outsider, codes) == []

    compiled: list[int] = []

    def build(given: list[str]) -> Any:
        compiled.append(1)
        return core_scope.restrict(
            Event.objects.filter(code__in=given), operator, "view"
        ).values_list("code")

    key = ("test", core_scope.signature(Event, operator, "view"))
    first = sql.fetch_compiled(key, build, codes[:2])
    with CaptureQueriesContext(connection) as q:
        again = sql.fetch_compiled(key, build, codes[1:3])
    assert compiled == [1]  # the second call ran the kept SQL with its own codes
    assert {c for (c,) in first} == set(codes[:2]) and {c for (c,) in again} == set(codes[1:3])
    assert len(q.captured_queries) == 1


def test_a_scoped_read_for_no_reach_sends_nothing() -> None:
    nobody = personas.persona("auditor", "1301")
    code = new_event().code
    with CaptureQueriesContext(connection) as q:
        assert queries.visible_codes(nobody, [code]) == []
    assert not [s for s in q.captured_queries if "events_event" in s["sql"] and "code" in s["sql"]]


def test_a_query_whose_args_are_not_plain_values_is_compiled_each_time() -> None:
    event = new_event()

    def build(given: list[str]) -> Any:  # startswith sends "<arg>%": no kept SQL for it
        return Event.objects.filter(code__startswith=given[0]).values_list("code")

    for _ in range(2):
        found = sql.fetch_compiled(("test.prefix",), build, [event.code[:-1]])
        assert (event.code,) in found


def _fields_of(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_kept_objects_are_the_orms_with_their_related_objects() -> None:
    """fetch_objects builds the instances the ORM builds: every field converted (aware
    datetimes, UUIDs, JSON, decrypted text), the select_related objects joined in."""
    e = new_event(reporter_phone="13800138000")
    related = ("category", "receiving_centre", "assignee_unit", "parent")

    def by_code(given: list[Any]) -> Any:
        return Event.objects.select_related(*related).filter(code=given[0])

    def by_pk(given: list[Any]) -> Any:
        return Event.objects.select_related(*related).filter(pk__in=given)

    orm = Event.objects.select_related(*related).get(pk=e.pk)
    code_field = Event._meta.get_field("code")
    for _ in range(2):  # compiled, then kept
        (ours,) = sql.fetch_objects(("test.by_code",), by_code, [e.code], code_field)
        assert _fields_of(ours) == _fields_of(orm)
        assert ours.reported_at.tzinfo is not None and ours.reporter_phone == "13800138000"
        assert ours.category == orm.category and ours.receiving_centre == orm.receiving_centre
        assert Event.category.field.is_cached(ours)  # joined, not read again
    other = new_event()
    with CaptureQueriesContext(connection) as seen:
        found = sql.fetch_objects(("test.by_pk",), by_pk, [other.pk, e.pk], Event._meta.pk)
    assert sorted(str(x.pk) for x in found) == sorted([str(other.pk), str(e.pk)])
    assert len(seen.captured_queries) == 1
    assert sql.fetch_objects(("test.by_code",), by_code, ["SJZ000"], code_field) == []


def test_a_kept_scoped_event_lookup_keeps_each_scope_apart() -> None:
    """queries.event keeps its SQL per scope signature: one person's kept statement never
    answers for another's scope, by case number or by id."""
    e = new_event()
    mine, stranger = personas.township_operator(), personas.township_operator("130131102")
    for _ in range(2):
        for key in (e.code, e.pk, str(e.pk)):
            found = queries.event(mine, key)
            assert found is not None and found.pk == e.pk
            assert queries.event(stranger, key) is None
    assert queries.event(mine, "SJZ\x00") is None and queries.event(mine, "nonsense") is None


def test_kept_objects_fall_back_to_the_orm_for_what_they_cannot_keep() -> None:
    e = new_event()
    calls: list[int] = []

    def prefetching(given: list[Any]) -> Any:
        calls.append(1)
        return Event.objects.prefetch_related("timeline").filter(code=given[0])

    code_field = Event._meta.get_field("code")
    for _ in range(2):
        (found,) = sql.fetch_objects(("test.prefetch",), prefetching, [e.code], code_field)
        assert found.pk == e.pk and [t.seq for t in found.timeline.all()] == [1]
    assert len(calls) == 3  # judged once, then built by the ORM on each call
