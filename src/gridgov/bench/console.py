"""`gridgov bench console`: the console's pages on a township holding a million events.

Builds a scratch database (as the other benchmarks), fills Hongqi street (红旗大街街道, 21 grids
of the demo city) with events spread over three years — most closed long ago, a few thousand
open, as a busy street's history looks — and times, in a fresh process, what the server spends
on each page a seat operator opens (Django's test client, no network): the queue, a search, the
tab counts, an event page, and the live-update poll. The baseline is the plainest read of the
same table in the same run: ``SELECT … ORDER BY updated_at DESC LIMIT 50`` (no index).
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .events import Out, _in_scratch, gridgov, scratch_env

MODULE = "gridgov.bench.console"
TOWNSHIP = "130104008"
OPERATOR = "hongqi_operator"

# Of a street's history, by state: most closed long ago; open work in the low thousands.
STATES = [
    ("archived", 0.80),
    ("closed", 0.13),
    ("rejected", 0.02),
    ("merged", 0.01),
    ("reported", 0.008),
    ("verifying", 0.002),
    ("registered", 0.005),
    ("dispatched", 0.005),
    ("in_progress", 0.012),
    ("suspended", 0.001),
    ("awaiting_check", 0.004),
    ("returned", 0.001),
    ("cancelled", 0.002),
]
OPEN = {"reported", "verifying", "registered", "dispatched", "in_progress", "awaiting_check"}


def bench_console(
    out: Out, events: int = 1_000_000, samples: int = 40, consoles: int = 1000
) -> None:
    with scratch_env() as env:
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        gridgov(env, "migrate", "-v0")
        gridgov(env, "demo", "--county", "130104")
        t = time.perf_counter()
        _in_scratch(env, f"fill_scope({events})", MODULE)
        out(f"filled {TOWNSHIP} with {events:,} events in {time.perf_counter() - t:.0f} s")
        measured = _in_scratch(env, f"measure({samples})", MODULE)
        figures = json.loads(measured.strip().splitlines()[-1])
    _print(out, figures, samples, consoles)


def _print(out: Out, f: dict[str, Any], samples: int, consoles: int) -> None:
    out(f"server time per request over {samples} requests (ms):")
    out(f"{'':44}{'median':>9}{'p95':>9}")
    for key, label in [
        ("baseline", "baseline: SELECT … ORDER BY … LIMIT 50"),
        ("baseline_indexed", "baseline: one state, index order, LIMIT 50"),
        ("queue", "queue page (待受理, 20 rows, counts)"),
        ("queue_handling", "queue page, 办理中 tab"),
        ("search", "queue page, full-text search"),
        ("counts", "tab counts alone"),
        ("event", "event page"),
        ("poll_idle", "live update: poll, nothing changed"),
        ("poll_change", "live update: poll after a change"),
        ("board", "supervision board (counts + 20 rows)"),
        ("board_urged", "supervision board, urged tab"),
        ("wall", "leader wall: all figures (data.json)"),
        ("map", "map: newest 5,000 open events"),
        ("grid", "grid page (workers, open events)"),
    ]:
        med, p95 = f[key]
        out(f"{label:44}{med:>9.1f}{p95:>9.1f}")
    poll_rate = consoles / 10
    idle_ms, change_ms = f["poll_idle"][0], f["poll_change"][0]
    queue_ms = f["queue"][0]
    out(f"{consoles:,} open consoles polling every 10 s: {poll_rate:.0f} requests/s")
    out(
        f"  when nothing changed: {poll_rate * idle_ms / 1000:.2f} CPU-seconds per second "
        f"({idle_ms:.1f} ms each)"
    )
    out(
        f"  per change, for each console whose scope holds it: one poll ({change_ms:.1f} ms) "
        f"and one list refresh ({queue_ms:.1f} ms) = {change_ms + queue_ms:.1f} ms"
    )


# ----------------------------------------------------------------------------- in the scratch db


def fill_scope(n: int) -> None:
    """Insert ``n`` events in the township's grids, then roll up their daily figures."""
    from django.db import connection

    from gridgov.analytics import rollups

    insert_events(n, TOWNSHIP)
    t = time.perf_counter()
    rows = rollups.rebuild()
    print(f"daily figures: {rows:,} rows in {time.perf_counter() - t:.0f} s")
    with connection.cursor() as cur:
        # What autovacuum does to a table in service: statistics, and the visibility map that
        # lets PostgreSQL answer from an index alone.
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def insert_events(
    n: int, township: str, states: list[tuple[str, float]] = STATES, prefix: str = "B"
) -> None:
    """Raw bulk insert of ``n`` template events in ``township``'s grids, spread over three
    years, with the counters the supervision board reads (also used by the export memory
    test, which removes its rows by ``prefix``).

    Each row is a dict of what it draws; the columns all rows share (the model's defaults, the
    township's centre, ``updated_at``) are converted for the database once, through the
    connection itself rather than its thread-local proxy. A model instance per row with every
    field converted cost more than the database's inserts."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.utils import timezone

    from gridgov.events.models import Category, Event
    from gridgov.orgs.models import OrgUnit
    from gridgov.regions.models import Grid

    connection = connections[DEFAULT_DB_ALIAS]
    rng = random.Random(8)
    grids = list(
        Grid.objects.filter(code__startswith=township, effective_to=None).values_list(
            "code", flat=True
        )
    )
    categories = list(Category.objects.filter(parent__isnull=False).values_list("pk", flat=True))
    centre = OrgUnit.objects.get(code=f"C{township}")
    now = timezone.now()
    fields = list(Event._meta.concrete_fields)
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = Event._meta.db_table
    template = Event(
        request_hash="x",
        orig_lon=114.47,
        orig_lat=38.03,
        orig_crs="wgs84",
        county_code=township[:6],
        area_type="urban",
        receiving_centre=centre,
    )
    names, weights = zip(*states, strict=True)
    words = ["占道经营", "井盖缺失", "垃圾堆放", "路灯不亮", "噪音扰民", "违章停车", "管道漏水"]
    done = 0
    while done < n:
        drawn = []
        for i in range(done, min(n, done + 10_000)):
            state = rng.choices(names, weights)[0]
            reported = now - timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
            due = now + timedelta(minutes=rng.randint(-3 * 1440, 3 * 1440))
            closed = reported + timedelta(hours=rng.randint(2, 240))
            is_open = state in OPEN
            drawn.append(
                {
                    "id": uuid.uuid4(),
                    "code": f"{prefix}{i:010d}",
                    "channel": rng.choice(["web", "wechat", "app", "phone"]),
                    "client_id": f"bench-{prefix}{i}",
                    "title": f"{rng.choice(words)}{i}",
                    "description": "压测数据：" + rng.choice(words),
                    "address": f"红旗大街{rng.randint(1, 400)}号",
                    "lon": 114.47 + rng.random() * 0.02,
                    "lat": 38.03 + rng.random() * 0.02,
                    "grid_code": rng.choice(grids),
                    "category_id": rng.choice(categories),
                    "urgency": "urgent" if rng.random() < 0.05 else "normal",
                    "state": state,
                    "reported_at": reported,
                    "due_at": due if is_open else None,
                    "step": "handle" if is_open else "",
                    "supervision": ("red" if due < now else rng.choice(["", "", "yellow"]))
                    if is_open
                    else "",
                    "return_count": rng.choice([0, 0, 0, 1, 2]) if is_open else 0,
                    "escalation_count": 1 if is_open and rng.random() < 0.1 else 0,
                    "urge_level": rng.choice(["", "", "", "remind", "formal"]) if is_open else "",
                    "closed_at": closed if state in ("closed", "archived") else None,
                    "closed_on_time": rng.random() < 0.9
                    if state in ("closed", "archived")
                    else None,
                }
            )
        rows = _db_rows(fields, template, drawn, connection)
        write_rows(table, cols, rows)
        done += len(rows)


def write_rows(table: str, cols: str, rows: list[list[Any]]) -> None:
    """Bulk rows into ``table`` in one transaction: COPY on PostgreSQL (a quarter of the time
    of as many INSERTs, the server's per-statement work being most of it), else executemany."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(rows[0])) if rows else ""
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608


def _db_rows(
    fields: list[Any], template: Any, drawn: list[dict[str, Any]], connection: Any
) -> list[list[Any]]:
    """The rows of ``drawn`` (values by attname) as the database takes them. What a row draws,
    and unique defaults (a uuid), are per row; every other column is ``template``'s, converted
    once. Of the per-row values only those that need it are converted (a uuid, a time, a key):
    the exact field classes of ``as_is``, not their subclasses (an encrypted text), store a
    plain value as it is."""
    from django.db import models

    as_is = (
        models.CharField,
        models.TextField,
        models.FloatField,
        models.IntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.BooleanField,
    )
    plain = (str, int, float, bool, type(None))
    per_row = set(drawn[0]) | {f.attname for f in fields if f.unique and f.has_default()}
    shared = [
        None if f.attname in per_row else f.get_db_prep_save(f.pre_save(template, True), connection)
        for f in fields
    ]
    put = [(k, f, type(f) in as_is) for k, f in enumerate(fields) if f.attname in per_row]
    rows = []
    for values in drawn:
        row = shared.copy()
        for k, f, simple in put:
            value = values[f.attname] if f.attname in values else f.get_default()
            if simple and isinstance(value, plain):
                row[k] = value
            else:
                row[k] = f.get_db_prep_save(value, connection)
        rows.append(row)
    return rows


def _timed(fn: Callable[[], Any], samples: int) -> tuple[float, float]:
    fn()  # warm: templates, caches, the database's pages
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def measure(samples: int) -> None:
    """In a fresh process: time each page; print the figures as one JSON line."""
    from django.db import connection
    from django.test import Client

    from gridgov.accounts.models import User
    from gridgov.events import queries
    from gridgov.events.intake import Report, do_intake
    from gridgov.events.models import Event
    from gridgov.events.services import act
    from gridgov.regions.models import Grid

    user = User.objects.get(username=OPERATOR)
    c = Client()
    c.force_login(user)

    def get(url: str) -> None:
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)

    table = Event._meta.db_table

    def sql(query: str) -> Callable[[], None]:
        def run() -> None:
            with connection.cursor() as cur:
                cur.execute(query)
                cur.fetchall()

        return run

    # The plainest read of the table (no index fits its order: updated_at has none; reported_at
    # has had one since the daily figures), and the cheapest ordered read
    # there is (one state, in the order of an index on (state, reported_at)).
    plain = sql(
        f"SELECT id, code, title, state, due_at FROM {table} "  # noqa: S608
        "ORDER BY updated_at DESC LIMIT 50"
    )
    indexed = sql(
        f"SELECT id, code, title, state, due_at FROM {table} "  # noqa: S608
        "WHERE state = 'in_progress' ORDER BY reported_at DESC LIMIT 50"
    )

    grid = Grid.objects.filter(code__startswith=TOWNSHIP, effective_to=None).first()
    assert grid is not None
    from gridgov.geo.geometry import polygon_from_geojson

    p = polygon_from_geojson(grid.boundary).representative_point()
    report = Report(
        channel="web", title="压测事件页", description="压测", lon=p.x, lat=p.y, category="0202"
    )
    event = do_intake(report, str(uuid.uuid4())).event
    event = act(event.pk, "accept", user, {})
    cursor = queries.latest_change()
    figures = {
        "baseline": _timed(plain, samples),
        "baseline_indexed": _timed(indexed, samples),
        "queue": _timed(lambda: get("/console/queue/"), samples),
        "queue_handling": _timed(lambda: get("/console/queue/?tab=handling"), samples),
        "search": _timed(lambda: get("/console/queue/?q=%E4%BA%95%E7%9B%96"), samples),
        "counts": _timed(
            lambda: queries.tab_counts(user, queries.QUEUE_TABS, queries.Filters()), samples
        ),
        "event": _timed(lambda: get(f"/console/events/{event.code}/"), samples),
        "poll_idle": _timed(
            lambda: get(f"/console/poll/?cursor={queries.latest_change()}"), samples
        ),
        "poll_change": _timed(lambda: get(f"/console/poll/?cursor={cursor - 1}"), samples),
        "board": _timed(lambda: get("/console/board/"), samples),
        "board_urged": _timed(lambda: get("/console/board/?tab=urged"), samples),
        "wall": _timed(lambda: get("/console/wall/data.json"), samples),
        "map": _timed(lambda: get("/console/map/events.json"), samples),
        "grid": _timed(lambda: get(f"/console/grids/{grid.code}/"), samples),
    }
    print(json.dumps(figures))
