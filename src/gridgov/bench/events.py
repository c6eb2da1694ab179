"""`gridgov bench intake` and `gridgov bench ticker`, each beside a baseline from the same run.

Both build a scratch database of their own (a temporary SQLite file, or the PostgreSQL database
`gridgov_bench` when GRIDGOV_DB=postgres), never the one the platform runs on.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .webserver import gunicorn

Out = Callable[[str], None]
BENCH_PG_NAME = "gridgov_bench"


# ----------------------------------------------------------------------------- scratch database


@contextmanager
def scratch_env(pg_name: str = BENCH_PG_NAME, drop: bool = False) -> Iterator[dict[str, str]]:
    """Environment for child processes on a fresh scratch database with data and keys of its
    own (a benchmark never touches the installation's ``.var`` or ``.keys``); with ``drop``
    a PostgreSQL scratch database is dropped afterwards."""
    pg = os.environ.get("GRIDGOV_DB") == "postgres"
    with tempfile.TemporaryDirectory(prefix="gridgov-bench-") as tmp:
        env = {
            **os.environ,
            "GRIDGOV_DATA_DIR": str(Path(tmp) / "data"),
            "GRIDGOV_KEY_DIR": str(Path(tmp) / "keys"),
            "GRIDGOV_STREAM_URL": "",
        }
        if pg:
            _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            _pg_admin(f'CREATE DATABASE "{pg_name}"')
            env.update(GRIDGOV_PG_NAME=pg_name)
        else:
            env.update(GRIDGOV_DB="sqlite", GRIDGOV_SQLITE_PATH=str(Path(tmp) / "bench.sqlite3"))
        try:
            yield env
        finally:
            if pg and drop:
                _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _pg_admin(statement: str) -> None:
    import psycopg

    conn = psycopg.connect(
        host=os.environ.get("GRIDGOV_PG_HOST", "127.0.0.1"),
        port=os.environ.get("GRIDGOV_PG_PORT", "5432"),
        user=os.environ.get("GRIDGOV_PG_USER", "postgres"),
        dbname="postgres",
        autocommit=True,
    )
    with conn:
        conn.execute(statement.encode())  # our own names only


def gridgov(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gridgov", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"gridgov {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


# ----------------------------------------------------------------------------- baseline


def _pg_inserter(env: dict[str, str]) -> Callable[[], None]:
    import psycopg

    conn = psycopg.connect(
        host=env.get("GRIDGOV_PG_HOST", "127.0.0.1"),
        user=env.get("GRIDGOV_PG_USER", "postgres"),
        dbname=env["GRIDGOV_PG_NAME"],
        autocommit=True,
    )
    conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id uuid PRIMARY KEY, body text)")

    def insert() -> None:
        conn.execute("INSERT INTO bench_rows VALUES (%s, %s)", (uuid.uuid4(), "x" * 400))

    return insert


def _sqlite_inserter(env: dict[str, str]) -> Callable[[], None]:
    lite = sqlite3.connect(env["GRIDGOV_SQLITE_PATH"], isolation_level=None, timeout=20)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("PRAGMA synchronous=FULL")
    lite.execute("CREATE TABLE IF NOT EXISTS bench_rows (id TEXT PRIMARY KEY, body TEXT)")

    def insert() -> None:
        lite.execute("BEGIN IMMEDIATE")
        lite.execute("INSERT INTO bench_rows VALUES (?, ?)", (str(uuid.uuid4()), "x" * 400))
        lite.execute("COMMIT")

    return insert


def durable_insert_rate(env: dict[str, str], seconds: float = 3.0) -> float:
    """Single-row INSERT + COMMIT per row, with the platform's durability settings."""
    pg = env.get("GRIDGOV_DB") == "postgres"
    insert = _pg_inserter(env) if pg else _sqlite_inserter(env)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        insert()
        n += 1
    return n / (time.perf_counter() - start)


# ----------------------------------------------------------------------------- intake


def _points(env: dict[str, str], county: str, n: int) -> list[tuple[float, float]]:
    code = (
        "import json,sys\n"
        "import django; django.setup()\n"
        "from gridgov.regions.models import Grid\n"
        "from gridgov.geo.geometry import polygon_from_geojson\n"
        f"qs = Grid.objects.filter(code__startswith='{county}', effective_to=None, kind='base')\n"
        f"pts = [polygon_from_geojson(g.boundary).representative_point() for g in qs[:{n}]]\n"
        "print(json.dumps([[p.x, p.y] for p in pts]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "gridgov.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    return [(p[0], p[1]) for p in json.loads(out.stdout)]


def _body(points: list[tuple[float, float]], i: int) -> bytes:
    lon, lat = points[i % len(points)]
    report = {
        "client_id": str(uuid.uuid4()),
        "channel": "app",
        "title": "占道经营",
        "description": "压测上报",
        "lon": lon,
        "lat": lat,
        "category": "0201",
    }
    return json.dumps(report).encode()


def _client_loop(
    port: int,
    token: str,
    points: list[tuple[float, float]],
    count: int,
    latencies: list[float],
    errors: list[str],
) -> None:
    """One keep-alive client, blocking (warm-ups and small runs)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for i in range(count):
        body = _body(points, i)
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/events", body, headers)
            resp = conn.getresponse()
            resp.read()
        except OSError as exc:
            errors.append(str(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        if resp.status == 201:
            latencies.append(time.perf_counter() - t)
        else:
            errors.append(str(resp.status))
    conn.close()


async def _async_client(
    port: int, token: str, bodies: list[bytes], latencies: list[float], errors: list[str]
) -> None:
    """One keep-alive client speaking HTTP/1.1 itself: all the clients share one thread and
    an event loop, so the load costs the two cores as little as it can (requests are made
    before the clock starts)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    )
    requests = [f"{head}Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]
    try:
        for request in requests:
            t = time.perf_counter()
            writer.write(request)
            status = int((await asyncio.wait_for(reader.readline(), 60)).split()[1])
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip().lower()
            if headers.get(b"transfer-encoding") == b"chunked":
                while size := int(await reader.readline(), 16):
                    await reader.readexactly(size + 2)
                await reader.readline()
            else:
                await reader.readexactly(int(headers.get(b"content-length", b"0")))
            if status == 201:
                latencies.append(time.perf_counter() - t)
            else:
                errors.append(str(status))
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()


def bench_intake(
    out: Out, clients: int = 16, reports: int = 2000, workers: int = 2, threads: int = 4
) -> None:
    county = "130104"
    with scratch_env(f"{BENCH_PG_NAME}_intake") as env:
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        gridgov(env, "migrate", "-v0")
        gridgov(env, "demo", "--county", county)
        token = gridgov(env, "token", "qiaoxi_operator", "bench").strip()
        points = _points(env, county, 500)
        baseline = durable_insert_rate(env)
        plain_env = _plain_env(env)
        with gunicorn(plain_env, workers, threads, app="gridgov.bench.plain.wsgi") as (web, port):
            plain = _load(web, port, token, points, clients, reports)
        with gunicorn(env, workers, threads) as (web, port):
            ours = _load(web, port, token, points, clients, reports)
    out(f"web: gunicorn {workers} workers × {threads} threads; {clients} concurrent HTTP clients")
    out(f"raw durable single-row inserts/s (same file/database): {baseline:,.0f}")
    _print_intake(out, plain, ours)


def _plain_env(env: dict[str, str]) -> dict[str, str]:
    """The plain baseline's environment: the same database kind and settings, its own tables."""
    plain = {**env, "DJANGO_SETTINGS_MODULE": "gridgov.bench.plain.settings"}
    if "GRIDGOV_SQLITE_PATH" in env:
        plain["GRIDGOV_PLAIN_SQLITE_PATH"] = env["GRIDGOV_SQLITE_PATH"] + ".plain"
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v0"],
        env=plain,
        check=True,
        capture_output=True,
    )
    return plain


@dataclass
class Load:
    latencies: list[float]
    errors: list[str]
    elapsed: float
    server_cpu: float  # CPU seconds of the web server's processes during the load

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def _cpu(web: subprocess.Popen[bytes]) -> float:
    import psutil

    procs = [psutil.Process(web.pid), *psutil.Process(web.pid).children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def _load(
    web: subprocess.Popen[bytes],
    port: int,
    token: str,
    points: list[tuple[float, float]],
    clients: int,
    reports: int,
) -> Load:
    """``reports`` reports from ``clients`` keep-alive clients at once, after a warm-up. Each
    client reports at points of its own, so the duplicates found are those of a real burst."""
    for _ in range(4):  # warm up every worker: locator, calendar, caches
        _client_loop(port, token, points, 10, [], [])
    latencies: list[float] = []
    errors: list[str] = []
    per_client = reports // clients
    bodies = [
        [_body(points, c * per_client + i) for i in range(per_client)] for c in range(clients)
    ]

    async def all_clients() -> None:
        await asyncio.gather(
            *(_async_client(port, token, mine, latencies, errors) for mine in bodies)
        )

    cpu, start = _cpu(web), time.perf_counter()
    asyncio.run(all_clients())
    return Load(latencies, errors, time.perf_counter() - start, _cpu(web) - cpu)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def _print_intake(out: Out, plain: Load, ours: Load) -> None:
    out(f"{'measure':<34}{'plain view':>14}{'gridgov intake':>16}")
    out(f"{'accepted reports/s':<34}{plain.rate:>14,.1f}{ours.rate:>16,.1f}")
    for p in (50, 95, 99):
        a, b = _pct(plain.latencies, p) * 1000, _pct(ours.latencies, p) * 1000
        out(f"{f'latency p{p} (ms)':<34}{a:>14,.1f}{b:>16,.1f}")
    a, b = (max(x.latencies, default=float("nan")) * 1000 for x in (plain, ours))
    out(f"{'latency max (ms)':<34}{a:>14,.1f}{b:>16,.1f}")
    a, b = (x.server_cpu / max(len(x.latencies), 1) * 1000 for x in (plain, ours))
    out(f"{'server CPU per report (ms)':<34}{a:>14,.2f}{b:>16,.2f}")
    counts = [f"{len(x.latencies)} / {len(x.errors)}" for x in (plain, ours)]
    out(f"{'accepted / errors':<34}{counts[0]:>14}{counts[1]:>16}")
    out(f"intake's rate is {ours.rate / plain.rate:.2f} of the plain view's")
    for name, x in (("plain", plain), ("intake", ours)):
        if x.errors:
            out(f"  {name}: first errors {x.errors[:5]}")


# ----------------------------------------------------------------------------- ticker


def bench_ticker(out: Out, open_events: int = 1_000_000, due: int = 1000) -> None:
    """One tick with ``due`` due events among ``due`` open ones (the baseline), then among
    ``open_events``; each tick runs in a fresh process whose peak RSS is reported."""
    with scratch_env(f"{BENCH_PG_NAME}_ticker") as env:
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        gridgov(env, "migrate", "-v0")
        gridgov(env, "demo", "--county", "130104")
        out(
            f"{'open events':>12}{'due':>7}{'tick s':>9}{'ms per due':>12}"
            f"{'peak RSS MB':>13}{'build s':>9}"
        )
        made = 0
        for size in (due, open_events):
            t = time.perf_counter()
            _in_scratch(env, f"make_events({size - made}, False); make_events({due}, True)")
            build = time.perf_counter() - t
            made = size
            tick = json.loads(_in_scratch(env, "tick_once()"))
            out(
                f"{size:>12,}{tick['done']:>7}{tick['seconds']:>9.2f}"
                f"{tick['seconds'] / max(tick['done'], 1) * 1000:>12.1f}"
                f"{tick['peak_rss_mb']:>13.1f}{build:>9.1f}"
            )


def _in_scratch(env: dict[str, str], call: str, module: str = "gridgov.bench.events") -> str:
    code = f"import django; django.setup()\nfrom {module} import *\n{call}\n"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "gridgov.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return proc.stdout


def tick_once() -> None:
    """In a fresh process: run the deadline job once; print time and the process's peak RSS."""
    from django.utils import timezone

    from gridgov.events.alarms import tick_deadlines

    t = time.perf_counter()
    done = tick_deadlines(timezone.now())
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"done": done, "seconds": seconds, "peak_rss_mb": peak}))


def make_events(n: int, due: bool) -> int:
    from django.utils import timezone

    when = timezone.now() + (timedelta(minutes=-1) if due else timedelta(days=365))
    return _make_events(n, when)


def _make_events(n: int, alarm: Any) -> int:
    """Insert n open events fast (raw bulk insert of a template row), all in Huiwen grid 8."""
    from django.db import connection, transaction
    from django.utils import timezone

    from gridgov.events.models import Event
    from gridgov.orgs.models import OrgUnit

    if n <= 0:
        return 0
    centre = OrgUnit.objects.get(code="C130104008")
    now = timezone.now()
    template = Event(
        code="",
        channel="app",
        client_id="",
        request_hash="x",
        title="压测",
        description="压测",
        lon=114.4,
        lat=38.0,
        orig_lon=114.4,
        orig_lat=38.0,
        orig_crs="wgs84",
        grid_code="130104008019008",
        county_code="130104",
        area_type="urban",
        state="in_progress",
        receiving_centre=centre,
        reported_at=now,
        step="handle",
        step_started_at=now,
        step_unit="h",
        due_at=alarm,
        warn_at=alarm,
        alarm_at=alarm,
        assignee_kind="grid",
        assignee_grid="130104008019008",
    )
    fields = list(Event._meta.concrete_fields)
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {Event._meta.db_table} ({cols}) VALUES ({marks})"  # noqa: S608
    base = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    names = [f.attname for f in fields]
    i_id, i_code, i_client = names.index("id"), names.index("code"), names.index("client_id")
    id_field = Event._meta.pk
    assert id_field is not None
    tag = uuid.uuid4().hex[:8]
    done = 0
    while done < n:
        rows = []
        for i in range(done, min(n, done + 20_000)):
            row = list(base)
            row[i_id] = id_field.get_db_prep_save(uuid.uuid4(), connection)
            row[i_code] = f"B{tag}{i:09d}"
            row[i_client] = f"bench-{tag}-{i}"
            rows.append(row)
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(sql, rows)
        done += len(rows)
    return n
