"""Fixed statements for the few writes and reads run on every report and every due event.

The ORM compiles a statement's SQL anew on each call: 0.2–0.7 ms of CPU for a filtered select
on these machines, against 0.03 ms to run it. Intake and the ticker run a dozen such statements
per report or event, so their hot statements are built once per model here and run with new
values. Values still go through each field's own conversion, so what is stored is byte for
byte what ``Model.save`` would store: a value of the exact type a plain field holds (a str in a
CharField, an aware datetime in a DateTimeField, a UUID in a UUIDField …) takes only the
backend's last step of that conversion, anything else the field's whole ``get_db_prep_save``
(``tests/core/test_sql.py`` compares the two). Everything else uses the ORM.

Statements run on the DB-API cursor itself, inside Django's error translation and its broken-
transaction check, when nobody is listening: while queries are logged (``DEBUG``, a test's
``CaptureQueriesContext``) or wrapped, they go through Django's cursor as any other.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX as _QMARK

from .lru import LRU

Saver = Callable[[models.Model], Any]  # an object -> its field's value as the database takes it

_TEXT = (models.CharField, models.TextField)
_INTEGER = (
    models.IntegerField,
    models.SmallIntegerField,
    models.BigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
)
_AUTO = (models.AutoField, models.BigAutoField, models.SmallAutoField)


def _last_step(field: Any) -> tuple[type, Callable[[Any], Any]] | None:
    """For a plain field (its exact class): the Python type it holds and the conversion
    ``get_db_prep_save`` ends with for a value of that type; None for any other field."""
    ops, kind = connection.ops, type(field)
    if kind in _TEXT:
        return str, _same
    if kind is models.BooleanField:
        return bool, _same
    if kind is models.FloatField:
        return float, _same
    if kind in _INTEGER:
        internal = field.get_internal_type()
        return int, lambda v: ops.adapt_integerfield_value(v, internal)
    if kind in _AUTO:
        return int, ops.validate_autopk_value
    if kind is models.UUIDField:
        return uuid.UUID, _same if connection.features.has_native_uuid_field else _hex
    if kind is models.DateTimeField and not (field.auto_now or field.auto_now_add):
        return dt.datetime, _aware_datetime(ops.adapt_datetimefield_value, field)
    if kind is models.ForeignKey or kind is models.OneToOneField:
        return _last_step(field.target_field)
    return None


def _same(value: Any) -> Any:
    return value


def _hex(value: uuid.UUID) -> str:
    return value.hex


def _aware_datetime(adapt: Callable[[Any], Any], field: Any) -> Callable[[Any], Any]:
    def convert(value: dt.datetime) -> Any:
        if value.utcoffset() is None:  # naive: the field warns about it, as save would
            return field.get_db_prep_save(value, connection)
        return adapt(value)

    return convert


def _saver(field: Any) -> Saver:
    attname = field.attname

    def whole(obj: models.Model) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    plain = _last_step(field)
    if plain is None:
        return whole
    kind, convert = plain

    def fast(obj: models.Model) -> Any:
        value = obj.__dict__.get(attname, whole)
        if value is whole:  # not loaded: the field's own way
            return whole(obj)
        if value is None:
            return None
        if type(value) is kind:
            return convert(value)
        return field.get_db_prep_save(value, connection)

    return fast


@cache
def _savers(model: type[models.Model], with_pk: bool, vendor: str) -> tuple[Saver, ...]:
    return tuple(_saver(f) for f in _fields(model, with_pk))


def row_values(obj: models.Model, with_pk: bool) -> list[Any]:
    """``obj``'s values for ``_fields(model, with_pk)``, as ``save`` would send them."""
    return [save(obj) for save in _savers(type(obj), with_pk, connection.vendor)]


@cache
def column_at(model: type[models.Model], attname: str) -> int:
    """Where a field's value sits in ``row_values(obj, False)``."""
    return [f.attname for f in _fields(model, False)].index(attname)


@cache
def _fields(model: type[models.Model], with_pk: bool) -> tuple[Any, ...]:
    return tuple(
        f
        for f in model._meta.concrete_fields
        if with_pk or not (f.primary_key and isinstance(f, _AUTO))
    )


@cache
def _insert_sql(
    model: type[models.Model],
    with_pk: bool,
    on_conflict: str,
    rows: int = 1,
    returning: bool = True,
) -> str:
    """INSERT of ``rows`` rows (cached per row count: a batch's sizes are few, up to
    groupcommit.MAX_BATCH); an auto-increment key left out is read back with RETURNING,
    unless nobody needs it (``returning``)."""
    fields = _fields(model, with_pk)
    q = connection.ops.quote_name
    cols = ", ".join(q(f.column) for f in fields)
    values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * rows)
    sql = f"INSERT INTO {q(model._meta.db_table)} ({cols}) VALUES {values}"  # noqa: S608
    pk = model._meta.pk
    if on_conflict:
        sql += f" ON CONFLICT {on_conflict} DO NOTHING"
    elif not with_pk and isinstance(pk, _AUTO) and returning:
        sql += f" RETURNING {q(pk.column)}"
    return sql


def _has_auto_pk(obj: models.Model) -> bool:
    return isinstance(obj._meta.pk, _AUTO)


def _saved(objs: Sequence[models.Model]) -> None:
    for o in objs:
        o._state.adding = False
        o._state.db = connection.alias


def insert(obj: models.Model, on_conflict: str = "") -> bool:
    """INSERT ``obj`` as ``save(force_insert=True)`` would (no signals: the models written
    this way have no receivers). An auto-increment key is read back with RETURNING. With
    ``on_conflict`` (e.g. ``"(id)"``) a row that exists already is left alone and False is
    answered."""
    with_pk = obj.pk is not None or not _has_auto_pk(obj)
    sql = _insert_sql(type(obj), with_pk, on_conflict)
    rows, count = run(sql, row_values(obj, with_pk), fetch=not with_pk and not on_conflict)
    if rows:
        obj.pk = rows[0][0]
    _saved([obj])
    return count != 0


def insert_many(objs: Sequence[models.Model], on_conflict: str) -> None:
    """INSERT many objects of one model with client-made keys in one executemany; rows whose
    key exists already are left alone (``on_conflict``, e.g. ``"(id)"``)."""
    if not objs:
        return
    sql = _insert_sql(type(objs[0]), True, on_conflict)
    run_many(sql, [row_values(o, True) for o in objs])
    _saved(objs)


def insert_rows(
    objs: Sequence[models.Model],
    rows: Sequence[Sequence[Any]] | None = None,
    returning: bool = True,
) -> None:
    """INSERT new objects of one model as multi-row statements; auto-increment keys are read
    back in the rows' order, as ``bulk_create`` does on both databases. Each statement stays
    within the database's limit of values. ``rows``: the objects' ``row_values(o, False)``
    worked out earlier (outside a lock held to write them). Without ``returning`` the keys
    are not read back (the objects keep no key and stay unsaved): then nothing waits for the
    statement's answer, and it can be sent with others (``pipelined``)."""
    if not objs:
        return
    model = type(objs[0])
    fields = _fields(model, False)
    auto = isinstance(model._meta.pk, _AUTO) and returning
    per = max(1, _max_params() // len(fields))
    for start in range(0, len(objs), per):
        chunk = objs[start : start + per]
        if rows is None:
            values = [v for o in chunk for v in row_values(o, False)]
        else:
            values = [v for row in rows[start : start + per] for v in row]
        ids, _count = run(_insert_sql(model, False, "", len(chunk), returning), values, fetch=auto)
        if auto:
            for obj, (pk,) in zip(chunk, ids, strict=True):
                obj.pk = pk
    if returning or not isinstance(model._meta.pk, _AUTO):
        _saved(objs)


def _max_params() -> int:
    """Values one statement may carry: SQLite's compiled-in limit (Django assumes the old 999),
    PostgreSQL's protocol limit."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return int(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return int(connection.features.max_query_params or 65535)


Converter = Any  # (value, expression, connection) -> value


def _converters(model: type[models.Model], fields: list[Any]) -> list[tuple[list[Converter], Any]]:
    convert = []
    for f in fields:
        col = f.get_col(model._meta.db_table)
        convert.append(
            (connection.ops.get_db_converters(col) + f.get_db_converters(connection), col)
        )
    return convert


def _convert(row: Sequence[Any], convert: list[tuple[list[Converter], Any]]) -> list[Any]:
    values = []
    for value, (converters, col) in zip(row, convert, strict=True):
        for fn in converters:
            value = fn(value, col, connection)
        values.append(value)
    return values


@cache
def _select_sql(
    model: type[models.Model], names: tuple[str, ...], where: str
) -> tuple[str, list[str], list[tuple[list[Converter], Any]]]:
    fields = [f for f in model._meta.concrete_fields if f.attname in names]
    q = connection.ops.quote_name
    cols = ", ".join(q(f.column) for f in fields)
    sql = f"SELECT {cols} FROM {q(model._meta.db_table)} WHERE {where}"  # noqa: S608
    return sql, [f.attname for f in fields], _converters(model, fields)


def select(
    model: type[models.Model], names: Sequence[str], where: str, params: Sequence[Any]
) -> list[Any]:
    """Instances of ``model`` with only ``names`` loaded (others deferred), ``WHERE where``
    (a fixed SQL condition with %s placeholders), values converted as the ORM converts them
    (dates, UUIDs, encrypted fields)."""
    sql, attnames, convert = _select_sql(model, tuple(names), where)
    return [
        model.from_db(connection.alias, attnames, _convert(row, convert))
        for row in fetch(sql, params)
    ]


@cache
def _joined_sql(model: type[models.Model], fk: str, where: str) -> tuple[str, Any, int]:
    field: Any = model._meta.get_field(fk)
    other: Any = field.related_model
    q = connection.ops.quote_name
    mine, theirs = list(model._meta.concrete_fields), list(other._meta.concrete_fields)
    cols = [f"t.{q(f.column)}" for f in mine] + [f"r.{q(f.column)}" for f in theirs]
    sql = (
        f"SELECT {', '.join(cols)} FROM {q(model._meta.db_table)} t "  # noqa: S608
        f"JOIN {q(other._meta.db_table)} r ON r.{q(other._meta.pk.column)} = t.{q(field.column)} "
        f"WHERE {where}"
    )
    return sql, (field, other, _converters(model, mine), _converters(other, theirs)), len(mine)


def select_joined(
    model: type[models.Model], fk: str, where: str, params: Sequence[Any]
) -> list[Any]:
    """Instances of ``model`` with the object its foreign key ``fk`` points at, in one statement
    (as ``select_related``); ``where`` names the two tables ``t`` and ``r``."""
    sql, (field, other, mine, theirs), n = _joined_sql(model, fk, where)
    found = []
    for row in fetch(sql, params):
        obj = model.from_db(connection.alias, [], _convert(row[:n], mine))
        field.set_cached_value(
            obj, other.from_db(connection.alias, None, _convert(row[n:], theirs))
        )
        found.append(obj)
    return found


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return run(sql, params, fetch=True)[0]


def fetch_each(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement, in order. On PostgreSQL they are sent together and answered
    in one round trip (pipeline mode); elsewhere one after another."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql" or conn.queries_logged or conn.execute_wrappers:
        return [fetch(sql, params) for sql, params in statements]
    cursors = []
    try:
        with conn.wrap_database_errors, conn.connection.pipeline():
            for sql, params in statements:
                cursors.append(_raw_cursor(conn))
                cursors[-1].execute(sql, params)
            return [list(cur.fetchall()) for cur in cursors]  # the first one waits for all
    finally:
        for cur in cursors:
            cur.close()


@contextmanager
def pipelined() -> Iterator[None]:
    """Statements run inside are sent to PostgreSQL together (its pipeline mode) and answered
    in one round trip at the end of the block, where their first error is raised (as Django's
    error). A statement that fetches rows waits there for all before it; a row count is not
    known inside (-1), so only writes whose count nobody reads belong here. Elsewhere the
    block changes nothing."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        yield
        return
    conn.ensure_connection()
    with conn.wrap_database_errors, conn.connection.pipeline():
        yield


@cache
def _native(sql: str, vendor: str) -> str:
    """The statement as the driver takes it (SQLite's qmark style; psycopg takes %s)."""
    if vendor == "sqlite":
        return str(_QMARK.sub("?", sql).replace("%%", "%"))  # as SQLiteCursorWrapper does
    return sql


def run(sql: str, params: Sequence[Any], fetch: bool = False) -> tuple[list[tuple[Any, ...]], int]:
    """Execute one fixed statement: (its rows if ``fetch``, its row count)."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.queries_logged or conn.execute_wrappers:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return (list(cur.fetchall()) if fetch else []), cur.rowcount
    cur = _raw_cursor(conn)
    try:
        with conn.wrap_database_errors:
            cur.execute(_native(sql, conn.vendor), params)
            return (list(cur.fetchall()) if fetch else []), cur.rowcount
    finally:
        cur.close()


def run_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Execute one fixed statement once per row (an executemany)."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.queries_logged or conn.execute_wrappers:
        with conn.cursor() as cur:
            cur.executemany(sql, rows)
        return
    cur = _raw_cursor(conn)
    try:
        with conn.wrap_database_errors:
            cur.executemany(_native(sql, conn.vendor), rows)
    finally:
        cur.close()


def _raw_cursor(conn: Any) -> Any:
    """The driver's cursor, after the checks Django's own cursor makes. On PostgreSQL it binds
    values on the server (ADR 0022): psycopg then sends them as they are, converted in C,
    where the client-side binding Django uses quotes each value in Python."""
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    conn.validate_thread_sharing()
    conn.validate_no_broken_transaction()
    with conn.wrap_database_errors:
        if conn.vendor == "postgresql":
            return _server_bound()(conn.connection)
        return conn.connection.cursor()


@cache
def _server_bound() -> Any:
    """psycopg's server-side binding cursor, and its statement cache opened to our fixed
    statements: psycopg splits a statement at its placeholders on every call unless it has at
    most 50 values and 4 KB of text. An event's INSERT has 70 values, a batch's several
    hundred; splitting them again was a fifth of a report's CPU on PostgreSQL. The statements
    run here are a few hundred fixed texts (per model and batch size), so caching them is
    bounded (psycopg keeps the last 128)."""
    import psycopg
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 65535)
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 1 << 20)
    return psycopg.Cursor


Template = tuple[str, list[Any], dict[int, int]]  # SQL, its params, param index -> arg index
_templates = LRU(512)


def fetch_compiled(
    key: Hashable, build: Callable[[list[str]], models.QuerySet[Any]], args: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The rows of the queryset ``build(args)`` (a ``values_list``), as the database answers
    them (no field converters: read plain columns), its SQL compiled by the ORM only once per
    ``key`` and number of args. ``key`` must name the query and fix everything else in its
    SQL but the values of ``args``: for a scoped read, the query's own name and
    ``core.scope.signature``. Later calls run the kept SQL with the new args in place (text
    args, each used once as a plain value, compared by equality: ``exact`` or ``in``)."""
    found: Template | None = _templates.get((key, len(args)), lambda: _template(build, len(args)))
    if found is None:  # the args are not plain values: compiled each time
        try:
            text, values = build(list(args)).query.sql_with_params()
        except EmptyResultSet:
            return []
        return fetch(text, values)  # raw values, as on the kept path
    sql, params, where = found
    if not sql:
        return []
    given = list(params)
    for i, j in where.items():
        given[i] = args[j]
    return fetch(sql, given)


def _template(build: Callable[[list[str]], models.QuerySet[Any]], n: int) -> Template | None:
    marks = [f"\x00arg{i}:{uuid.uuid4().hex}" for i in range(n)]
    try:
        sql, params = build(marks).query.sql_with_params()
    except EmptyResultSet:  # the filter reaches nothing (no scope): no rows, no statement
        return "", [], {i: i for i in range(n)}
    where = _arg_places(sql, params, marks)
    if where is None:
        return None
    return sql, list(params), where


def _arg_places(sql: str, params: Sequence[Any], marks: list[Any]) -> dict[int, int] | None:
    """Where each arg's mark came back among ``params`` (param index -> arg index), or None
    if some mark is not there exactly once as a plain param (used twice, transformed, or
    inlined into the SQL): such a statement cannot be kept."""
    where = {i: marks.index(p) for i, p in enumerate(params) if p in marks}
    inlined = any(isinstance(m, str) and m in sql for m in marks)
    if sorted(where.values()) != list(range(len(marks))) or inlined:
        return None
    return where


def _converted(row: Sequence[Any], converters: dict[int, tuple[list[Converter], Any]]) -> list[Any]:
    """A row's values as the compiler's apply_converters makes them, with this thread's
    connection."""
    values = list(row)
    for i, (fns, expression) in converters.items():
        for fn in fns:
            values[i] = fn(values[i], expression, connection)
    return values


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# ----------------------------------------------------------------------------- kept statements

Kept = tuple[
    str, tuple[Any, ...], dict[int, tuple[list[Converter], Any]]
]  # SQL, params, converters
_kept = LRU(1024)


def fetch_kept(key: Hashable, build: Callable[[], models.QuerySet[Any]]) -> list[tuple[Any, ...]]:
    """The rows of the ``values_list`` queryset ``build()``, converted as the ORM converts them,
    its SQL compiled by the ORM only once per ``key``. ``key`` must fix every value in the SQL:
    the query's name, ``core.scope.signature`` and every filter's value (a filter on "now" can
    not be kept). For the reads a console repeats on every page: a tab's count, its sorted
    narrow reads."""
    kept = _keep(key, build)
    if kept is None:
        return []
    text, params, converters = kept
    rows = fetch(text, params)
    if not converters:
        return rows
    return [tuple(_converted(row, converters)) for row in rows]


def count_kept(key: Hashable, build: Callable[[], models.QuerySet[Any]]) -> int:
    """How many rows ``build()`` holds (it may be sliced: a capped count), its SQL kept as in
    ``fetch_kept``."""
    kept = _keep(("count", key), build)
    if kept is None:
        return 0
    text, params, _ = kept
    return int(fetch(f"SELECT COUNT(*) FROM ({text}) counted", params)[0][0])  # noqa: S608


def count_kept_many(
    asked: Sequence[tuple[Hashable, Callable[[], models.QuerySet[Any]]]],
) -> list[int]:
    """``count_kept`` for several (key, build) at once, in one statement: a list's tabs are
    counted together, one round trip instead of one per tab."""
    parts: list[str] = []
    params: list[Any] = []
    for key, build in asked:
        kept = _keep(("count", key), build)
        if kept is None:
            parts.append("0")
            continue
        text, given, _ = kept
        parts.append(f"(SELECT COUNT(*) FROM ({text}) counted)")  # noqa: S608 - compiled SQL
        params.extend(given)
    if all(part == "0" for part in parts):
        return [0] * len(parts)
    (row,) = fetch("SELECT " + ", ".join(parts), params)
    return [int(n) for n in row]


def _keep(key: Hashable, build: Callable[[], models.QuerySet[Any]]) -> Kept | None:
    kept: Kept | None = _kept.get(key, lambda: _compile(build))
    return kept


def _compile(build: Callable[[], models.QuerySet[Any]]) -> Kept | None:
    compiler = build().query.get_compiler(connection.alias)
    try:
        text, params = compiler.as_sql()
    except EmptyResultSet:  # the filter reaches nothing (no scope): no rows, no statement
        return None
    columns = [col for col, _, _ in compiler.select]
    return text, tuple(params), compiler.get_converters(columns)


# ----------------------------------------------------------------------------- kept objects


@dataclass(frozen=True)
class _Objects:
    """A model queryset's SQL compiled once, and how its rows become instances (with the
    objects ``select_related`` joins), as the ORM's own ModelIterable makes them."""

    sql: str
    params: list[Any]
    where: dict[int, int]  # param index -> arg index
    converters: dict[int, tuple[list[Converter], Any]]
    model: type[models.Model]
    start: int
    end: int
    attnames: list[str]
    related: list[Any]  # django's RelatedPopulators: stateless once built


_objects = LRU(512)


def fetch_objects(
    key: Hashable,
    build: Callable[[list[Any]], models.QuerySet[Any]],
    args: Sequence[Any],
    field: models.Field[Any, Any],
) -> list[Any]:
    """The instances of the model queryset ``build(args)`` (its ``select_related`` objects
    joined), its SQL compiled by the ORM only once per ``key`` and number of args. Each arg is
    compared with ``field`` once, as a plain value, by equality (``exact`` or ``in``: a
    pattern lookup such as ``iexact`` on SQLite escapes its value when compiled, which a kept
    statement would not); ``key`` must fix everything else in the SQL, as for
    ``fetch_compiled``. A queryset whose args do not come back as plain values, or
    that is not a plain model queryset, is compiled each time."""
    kept: _Objects | bool | None = _objects.get(
        (key, len(args)), lambda: _objects_template(build, len(args), field)
    )
    if kept is None:  # the filter reaches nothing
        return []
    if kept is False:
        return list(build(list(args)))
    assert isinstance(kept, _Objects)
    given = list(kept.params)
    for i, j in kept.where.items():
        given[i] = field.get_db_prep_value(args[j], connection, prepared=False)
    found = []
    for row in fetch(kept.sql, given):
        values = _converted(row, kept.converters)
        obj = kept.model.from_db(connection.alias, kept.attnames, values[kept.start : kept.end])
        for populator in kept.related:
            populator.populate(values, obj)
        found.append(obj)
    return found


def _objects_template(
    build: Callable[[list[Any]], models.QuerySet[Any]], n: int, field: models.Field[Any, Any]
) -> _Objects | bool | None:
    from django.db.models import query as django_query

    marks: list[Any] = [
        uuid.uuid4() if isinstance(field, models.UUIDField) else f"\x00arg{i}:{uuid.uuid4().hex}"
        for i in range(n)
    ]
    qs: Any = build(marks)  # Django's private flags: whether rows are plain instances
    if (
        qs._iterable_class is not django_query.ModelIterable
        or qs._prefetch_related_lookups
        or qs._known_related_objects
    ):
        return False
    compiler = qs.query.get_compiler(connection.alias)
    try:
        text, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    prepared = [field.get_db_prep_value(m, connection, prepared=False) for m in marks]
    where = _arg_places(text, params, prepared)
    plain = not (compiler.annotation_col_map or compiler.has_extra_select)
    if where is None or not plain:
        return False
    info = compiler.klass_info
    select = compiler.select
    start, end = info["select_fields"][0], info["select_fields"][-1] + 1
    return _Objects(
        sql=text,
        params=list(params),
        where=where,
        converters=compiler.get_converters([col for col, _, _ in select[: compiler.col_count]]),
        model=info["model"],
        start=start,
        end=end,
        attnames=[col.target.attname for col, _, _ in select[start:end]],
        related=django_query.get_related_populators(  # type: ignore[attr-defined]
            info, select, connection.alias
        ),
    )
