"""``gridgov bench mixed``: a governance centre's mix of requests at a fixed offered rate.

Builds a scratch database as the other benchmarks do (the demo's Qiaoxi district), fills it with
a year of the district's events in every state of the closed loop, starts gunicorn as
``gridgov run`` does (2 workers × 4 threads, access log on), and offers ``rate`` requests/s for
``seconds`` from an open-loop generator in its own process: every request is sent at its
scheduled time whatever the server answers, and its latency runs from that scheduled time, so a
slow server cannot hide the queue it builds (no coordinated omission). Every request has a
timeout; the run ends on its own even if the server hangs.

The generator is asyncio with raw HTTP/1.1 on keep-alive connections (a new connection whenever
none is idle), one thread, no Django. It shares both cores with the server at real-time priority
(see ``_place``), so it sends on time without taking a core away from the server; the lag
between schedule and send, and the CPU each side used, are measured and printed. The server's
own time per request comes from its access log.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .events import BENCH_PG_NAME, Out, _in_scratch, gridgov, scratch_env
from .webserver import command, free_port, stop, wait_until_up

MODULE = "gridgov.bench.mixed"
PG_NAME = f"{BENCH_PG_NAME}_mixed"
COUNTY = "130104"  # Qiaoxi (桥西区), the demo's district with its grids and centres
TOWNSHIP = "130104008"  # Hongqi street (红旗大街), whose seat operator the demo creates
OPERATOR = "qiaoxi_operator"  # the county centre's seat: reports, accepts, dispatches, checks
TOWNSHIP_OPERATOR = "hongqi_operator"
DEPT_USER = "qiaoxi_dept_cg"  # a department handler (城管, D1301-01): signs for, reports results
DEPT_UNIT = "D1301-01"
WORKERS, THREADS = 2, 4  # `gridgov run`'s defaults (GRIDGOV_WORKERS, GRIDGOV_THREADS)

WARMUP_S = 10.0  # at the full rate, not measured: workers load the locator, templates, caches
TIMEOUT_S = 10.0  # per request, from its scheduled time: later than this is an error
IDLE_S = 1.0  # keep-alive connections idle longer are dropped (gunicorn closes them after 2 s)
GENERATOR_NICE = -10
POLL_INTERVAL_S = 10.0  # an open list polls every 10 s (console.js POLL_MS, ADR 0009)
SEED = 20261128
GOAL_READ_P95_MS = 300.0

# What a governance centre's server is asked, by share of all requests. At 200 requests/s:
# - poll 40 %: 80 polls/s are 800 open work lists, each asking "what changed?" every 10 s —
#   the seats of the county centre, its 17 township centres and the departments' handlers.
# - queue_refresh 10 %: the list a poll refreshes when its scope changed (htmx, the list
#   alone), one poll in four; queue_page 5 %: a seat opens the queue or switches tab (each of
#   the 800 about every 80 s); api_list 5 %: the grid workers' app and department systems list
#   events over the API.
# - event_page 10 %, api_detail 5 %: an event is opened several times in its life (to accept,
#   to dispatch, to check; by the handler and by department systems).
# - locate 10 %: the app and the hotline seat locate a point (the grid) before each report and
#   on map clicks, about twice per report.
# - report 5 %: 10 reports/s, 36,000 an hour — far above a district's real day (about 150 a
#   day here), so intake, the costliest write, is stressed.
# - action 10 %: two steps of the closed loop per report (accept, dispatch, sign for, report
#   the result, verify and close, in equal shares).
# Reads are everything but reports and actions: 85 %.
MIX: dict[str, float] = {
    "poll": 0.40,
    "queue_refresh": 0.10,
    "queue_page": 0.05,
    "api_list": 0.05,
    "event_page": 0.10,
    "api_detail": 0.05,
    "locate": 0.10,
    "report": 0.05,
    "action": 0.10,
}
WRITES = frozenset({"report", "action"})
# The loop's steps the generator takes, each on events in the state it leaves, and where an
# event goes next (the next step's pool): a report feeds accept, and so on to the closing check.
STEPS: dict[str, str | None] = {
    "accept": "dispatch",
    "dispatch": "sign",
    "sign": "report_result",
    "report_result": "verify_pass",
    "verify_pass": None,
}
STEP_ACTOR = {"sign": "dept", "report_result": "dept"}  # the rest: the county's operator
STEP_INPUTS: dict[str, dict[str, Any]] = {
    "dispatch": {"target_unit": DEPT_UNIT},
    "report_result": {"note": "已到现场处置完毕"},
}
QUEUE_TABS = [("intake", 4), ("dispatch", 2), ("handling", 2), ("check", 1), ("closed", 1)]
LABELS = [
    ("poll", "live-update poll (console)"),
    ("queue_refresh", "queue refresh (console, htmx)"),
    ("queue_page", "queue page (console)"),
    ("api_list", "GET /api/v1/events (list)"),
    ("event_page", "event page (console)"),
    ("api_detail", "GET /api/v1/events/{id}"),
    ("locate", "GET /api/v1/locate"),
    ("report", "POST /api/v1/events (report)"),
    *[(f"action {s}", f"POST …/{s}") for s in STEPS],
    ("action none", "POST … (no event left)"),
]


def bench_mixed(
    out: Out, rate: float = 200.0, seconds: float = 120.0, events: int = 50_000
) -> None:
    consoles = max(1, round(rate * MIX["poll"] * POLL_INTERVAL_S))
    # A PostgreSQL database of its own: another benchmark's scratch database is dropped (with
    # its connections) when that benchmark starts.
    scratch = scratch_env(PG_NAME, drop=True)
    with scratch as env, tempfile.TemporaryDirectory(prefix="gridgov-mixed-") as tmp:
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        gridgov(env, "migrate", "-v0")
        gridgov(env, "demo", "--county", COUNTY)
        t = time.perf_counter()
        filled = _last_json(_in_scratch(env, f"fill({events}, {SEED})", MODULE))
        out(
            f"filled Qiaoxi ({filled['grids']} grids, {filled['townships']} townships) with "
            f"{filled['events']:,} events ({filled['open']:,} open) and "
            f"{filled['timeline']:,} timeline rows in {time.perf_counter() - t:.0f} s, "
            f"then {filled['analyze']}"
        )
        setup = _last_json(_in_scratch(env, f"prepare({consoles}, {SEED})", MODULE))
        tokens = {
            who: gridgov(env, "token", user, "bench-mixed").strip()
            for who, user in (("operator", OPERATOR), ("dept", DEPT_USER))
        }
        with _web(env, Path(tmp)) as (web, port):
            plan = {
                **setup,
                "port": port,
                "tokens": tokens,
                "rate": rate,
                "warmup": WARMUP_S,
                "seconds": seconds,
                "mix": MIX,
                "seed": SEED,
            }
            run = _drive(plan, web, Path(tmp))
        run["log_errors"] = _log_errors(Path(tmp) / "gunicorn.log")
        with (Path(tmp) / "access.log").open() as log:
            run["server"] = server_times(log, WARMUP_S)
    _print(out, plan, run, consoles)


def _last_json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- web server


@contextmanager
def _web(env: dict[str, str], tmp: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """gunicorn with the options ``gridgov run`` gives it (its control socket aside); errors go
    to a file."""
    port = free_port()
    with (tmp / "gunicorn.log").open("wb") as log:
        proc = subprocess.Popen(
            command(
                port,
                WORKERS,
                THREADS,
                # The access log as production writes it, each line with the request's kind
                # (a header the generator sends) and the server's own time (µs).
                "--access-logfile",
                str(tmp / "access.log"),
                "--access-logformat",
                "%({x-bench-kind}i)s %(s)s %(D)s",
                "--graceful-timeout",
                "10",
                "--no-control-socket",
            ),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_until_up(port)
            yield proc, port
        finally:
            stop(proc)


def server_times(lines: Iterator[str] | Sequence[str], warmup: float) -> dict[str, list[float]]:
    """The server's own time (s) per kind of request from the access log's lines
    (``kind@scheduled status microseconds``), for requests scheduled after the warm-up."""
    found: dict[str, list[float]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or "@" not in parts[0]:
            continue  # the health checks before the run
        kind, at = parts[0].rsplit("@", 1)
        if float(at) >= warmup:
            found.setdefault(kind.replace(":", " "), []).append(int(parts[2]) / 1e6)
    return found


def _log_errors(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    return [ln for ln in lines if "[ERROR]" in ln or "[CRITICAL]" in ln or "Traceback" in ln]


# ----------------------------------------------------------------------------- driving a run


def _drive(plan: dict[str, Any], web: subprocess.Popen[bytes], tmp: Path) -> dict[str, Any]:
    """Start the generator in its own process, give it priority over the server, and measure
    the CPU each side uses over the measured window (after the warm-up)."""
    import psutil

    plan_file, result_file = tmp / "plan.json", tmp / "result.json"
    # CLOCK_MONOTONIC is one clock for every process: the generator starts at this instant.
    plan["start"] = time.monotonic() + 3.0
    plan_file.write_text(json.dumps(plan))
    code = f"from {MODULE} import generator_main; generator_main()"
    gen = subprocess.Popen([sys.executable, "-c", code, str(plan_file), str(result_file)])
    try:
        placement = _place(gen.pid, web.pid)
        generator = psutil.Process(gen.pid)
        meter = CpuMeter(
            {
                "generator": lambda: [generator],
                "web server": lambda: _tree(web.pid),
                "database": _database_processes,
            }
        )
        begin = plan["start"] + plan["warmup"]
        _sleep_until(begin)
        meter.sample(baseline=True)
        while time.monotonic() < begin + plan["seconds"]:
            _sleep_until(min(time.monotonic() + 0.5, begin + plan["seconds"]))
            meter.sample()
        gen.wait(timeout=plan["seconds"] + plan["warmup"] + TIMEOUT_S + 120)
    finally:
        if gen.poll() is None:
            gen.kill()
            gen.wait()
    if gen.returncode != 0:
        raise RuntimeError(f"the generator failed with {gen.returncode}")
    result: dict[str, Any] = json.loads(result_file.read_text())
    result["placement"] = placement
    result["cpu"] = meter.used()
    return result


class CpuMeter:
    """CPU-seconds used over a window by groups of processes, looked for again at every sample
    (database backends reconnect, a web worker may be restarted), and by the whole machine. A
    process first seen after the window began counts all its CPU; one that ended keeps what its
    last sample saw."""

    def __init__(self, groups: dict[str, Callable[[], list[Any]]]) -> None:
        self.groups = groups
        self.first: dict[tuple[int, float], float] = {}
        self.last: dict[tuple[int, float], float] = {}
        self.group_of: dict[tuple[int, float], str] = {}
        self.machine: list[float] = []
        self.wall: list[float] = []

    def sample(self, baseline: bool = False) -> None:
        import psutil

        for name, find in self.groups.items():
            for p in find():
                try:
                    key, t = (p.pid, p.create_time()), p.cpu_times()
                except psutil.Error:
                    continue
                self.first.setdefault(key, t.user + t.system if baseline else 0.0)
                self.last[key] = t.user + t.system
                self.group_of[key] = name
        m = psutil.cpu_times()
        self.machine.append(m.user + m.nice + m.system + m.irq + m.softirq)
        self.wall.append(time.monotonic())

    def used(self) -> dict[str, float]:
        found = dict.fromkeys(self.groups, 0.0)
        for key, name in self.group_of.items():
            found[name] += self.last[key] - self.first[key]
        found["machine"] = self.machine[-1] - self.machine[0]
        found["wall"] = self.wall[-1] - self.wall[0]
        return found


def _place(generator: int, web: int) -> dict[str, Any]:
    """Both cores for everyone: the server keeps the whole machine, as in production. The
    generator runs ahead of it: real-time (SCHED_FIFO), so it sends the moment a request is due
    rather than after a server thread's time slice; it sleeps between sends and uses a few
    percent of one core. Without that right: nice −10; without that either, the server at
    nice +10."""
    cpus = sorted(os.sched_getaffinity(0))
    try:
        os.sched_setscheduler(generator, os.SCHED_FIFO, os.sched_param(1))
        return {"cpus": cpus, "how": "generator real-time (SCHED_FIFO 1), server at nice 0"}
    except PermissionError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, generator, GENERATOR_NICE)
        how = f"generator at nice {GENERATOR_NICE}, server at nice 0"
    except PermissionError:
        for pid in [web, *(p.pid for p in _tree(web)[1:])]:
            os.setpriority(os.PRIO_PROCESS, pid, -GENERATOR_NICE)
        how = f"server at nice {-GENERATOR_NICE}, generator at nice 0"
    return {"cpus": cpus, "how": how}


def _tree(pid: int) -> list[Any]:
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _database_processes() -> list[Any]:
    """PostgreSQL's processes working for the bench: the backends of its database (they run a
    request's SQL) and the server's own (WAL writer, checkpointer…), not other databases'
    backends. None for SQLite, whose work is done inside the web server's processes."""
    import psutil

    if os.environ.get("GRIDGOV_DB") != "postgres":
        return []
    mine = f" {PG_NAME} "
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] not in ("postgres", "postmaster"):
            continue
        cmd = " ".join(p.info["cmdline"] or []) + " "
        backend = "(" in cmd or "autovacuum worker" in cmd  # working for one database
        if mine in cmd or not backend:
            found.append(p)
    return found


def _sleep_until(at: float) -> None:
    time.sleep(max(0.0, at - time.monotonic()))


# ----------------------------------------------------------------------------- pure parts


def plan_kinds(mix: dict[str, float], n: int, seed: int) -> list[str]:
    """``n`` request kinds in the mix's exact proportions (largest remainder), in a seeded
    random order: the mix holds for any run length, bursts of one kind happen as they would."""
    total = sum(mix.values())
    exact = {k: n * w / total for k, w in mix.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    left = n - sum(counts.values())
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[:left]:
        counts[k] += 1
    kinds = [k for k, c in counts.items() for _ in range(c)]
    random.Random(seed).shuffle(kinds)
    return kinds


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (a value that was measured); NaN when there is none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers (names lower-cased) of an HTTP/1.1 response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


@dataclass
class Row:
    n: int = 0
    ok: int = 0
    conflicts: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


def summarize(records: Sequence[Sequence[Any]], warmup: float) -> dict[str, Row]:
    """Per kind, over the measured window (scheduled after the warm-up): counts and latencies
    (s). A 409 of a write is a genuine conflict, counted apart; any other non-2xx, a timeout or
    a connection error is an error."""
    rows: dict[str, Row] = {}
    for record in records:
        label, at, latency, status = record[0], record[1], record[3], record[4]
        if at < warmup:
            continue
        row = rows.setdefault(label, Row())
        row.n += 1
        row.latencies.append(latency)
        if 200 <= status < 300:
            row.ok += 1
        elif status == 409 and _kind(label) in WRITES:
            row.conflicts += 1
        else:
            row.errors += 1
    return rows


def _kind(label: str) -> str:
    return label.split(" ", 1)[0]


# ----------------------------------------------------------------------------- the generator


@dataclass
class Request:
    label: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    after: Callable[[int, bytes], None] | None = None  # with the status and body of the answer


class Traffic:
    """What each kind of request asks, drawn from the scratch city (seeded): the consoles'
    sessions and cursors, events to open, points, and the events each step of the loop may act
    on — an event a step moved joins the next step's pool, a new report joins accept's."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.rng = random.Random(plan["seed"])
        self.consoles: list[dict[str, Any]] = [
            {"cookie": c["cookie"], "scope": c["scope"], "cursor": plan["cursor"]}
            for c in plan["consoles"]
        ]
        self.events: dict[str, list[list[str]]] = plan["events"]  # by scope: [id, code]
        self.points: list[list[float]] = plan["points"]
        self.categories: list[str] = plan["categories"]
        self.townships: list[str] = plan["townships"]
        self.pools: dict[str, list[str]] = {s: list(plan["pools"][s]) for s in STEPS}
        for pool in self.pools.values():
            self.rng.shuffle(pool)
        self.bearer = {k: f"Bearer {v}" for k, v in plan["tokens"].items()}

    def build(self, kind: str) -> Request:
        return getattr(self, f"_{kind}")()

    def _console(self) -> dict[str, Any]:
        return self.rng.choice(self.consoles)

    def _cookie(self, console: dict[str, Any]) -> dict[str, str]:
        return {"Cookie": f"sessionid={console['cookie']}"}

    def _poll(self) -> Request:
        console = self._console()

        def after(status: int, body: bytes) -> None:
            if status == 200:
                console["cursor"] = json.loads(body)["cursor"]

        headers = {**self._cookie(console), "X-Gridgov-Passive": "1", "Accept": "application/json"}
        return Request(
            "poll", "GET", f"/console/poll/?cursor={console['cursor']}", headers, after=after
        )

    def _tab(self) -> str:
        tabs, weights = zip(*QUEUE_TABS, strict=True)
        return self.rng.choices(tabs, weights)[0]

    def _queue_refresh(self) -> Request:
        headers = {**self._cookie(self._console()), "HX-Request": "true"}
        return Request("queue_refresh", "GET", f"/console/queue/?tab={self._tab()}&", headers)

    def _queue_page(self) -> Request:
        page = "&page=2" if self.rng.random() < 0.1 else ""
        path = f"/console/queue/?tab={self._tab()}{page}"
        return Request("queue_page", "GET", path, self._cookie(self._console()))

    def _api_list(self) -> Request:
        which = self.rng.random()
        if which < 0.5:
            query = "state=reported,verifying&limit=20"
        elif which < 0.8:
            query = f"under={self.rng.choice(self.townships)}&limit=20"
        else:
            query = "limit=20"
        headers = {"Authorization": self.bearer["operator"]}
        return Request("api_list", "GET", f"/api/v1/events?{query}", headers)

    def _event_page(self) -> Request:
        console = self._console()
        _id, code = self.rng.choice(self.events[console["scope"]])
        return Request("event_page", "GET", f"/console/events/{code}/", self._cookie(console))

    def _api_detail(self) -> Request:
        event_id, _code = self.rng.choice(self.events["county"])
        headers = {"Authorization": self.bearer["operator"]}
        return Request("api_detail", "GET", f"/api/v1/events/{event_id}", headers)

    def _locate(self) -> Request:
        lon, lat = self.rng.choice(self.points)
        headers = {"Authorization": self.bearer["operator"]}
        return Request("locate", "GET", f"/api/v1/locate?lon={lon:.6f}&lat={lat:.6f}", headers)

    def _report(self) -> Request:
        lon, lat = self.rng.choice(self.points)
        body = {
            "client_id": str(uuid.uuid4()),
            "channel": self.rng.choice(["app", "phone", "web"]),
            "title": "占道经营",
            "description": "压测上报：路口有摊位占道",
            "lon": lon,
            "lat": lat,
            "category": self.rng.choice(self.categories),
        }

        def after(status: int, answer: bytes) -> None:
            if status == 201:
                self.pools["accept"].append(json.loads(answer)["id"])

        return self._post("report", "/api/v1/events", "operator", body, after)

    def _action(self) -> Request:
        ready = [s for s in STEPS if self.pools[s]]
        if not ready:  # nothing to act on: asked anyway, answered 404, counted as an error
            return self._post("action none", "/api/v1/events/none/accept", "operator", {}, None)
        step = self.rng.choice(ready)
        event_id = self.pools[step].pop()
        following = STEPS[step]

        def after(status: int, answer: bytes) -> None:
            if status == 200 and following:
                self.pools[following].append(event_id)

        body = {"client_id": str(uuid.uuid4()), **STEP_INPUTS.get(step, {})}
        path = f"/api/v1/events/{event_id}/{step}"
        return self._post(f"action {step}", path, STEP_ACTOR.get(step, "operator"), body, after)

    def _post(
        self,
        label: str,
        path: str,
        who: str,
        body: dict[str, Any],
        after: Callable[[int, bytes], None] | None,
    ) -> Request:
        headers = {"Authorization": self.bearer[who], "Content-Type": "application/json"}
        return Request(label, "POST", path, headers, json.dumps(body).encode(), after)


class Connections:
    """Keep-alive connections to the server, the most recently used first; a new one when none
    is idle (an open loop must not wait for a free connection)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        now = time.monotonic()
        while self.idle:
            reader, writer, used = self.idle.pop()
            if now - used < IDLE_S and not reader.at_eof():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.opened += 1
        return reader, writer, False

    def put(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.idle.append((reader, writer, time.monotonic()))


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes, bool]:
    """Send one request, read its whole answer: status, body, and whether the connection may
    be used again."""
    writer.write(raw)
    await writer.drain()
    status, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                break
            chunks.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(chunks)
    else:
        return status, await reader.read(), False
    return status, body, headers.get("connection", "").lower() != "close"


class Generator:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.port = int(plan["port"])
        self.traffic = Traffic(plan)
        self.records: list[list[Any]] = []
        self.retries = 0
        self.opened = 0

    def _raw(self, req: Request, at: float) -> bytes:
        head = [f"{req.method} {req.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        head += ["Accept-Language: zh-hans", "User-Agent: gridgov-bench-mixed"]
        head.append(f"X-Bench-Kind: {req.label.replace(' ', ':')}@{at:.3f}")
        head += [f"{k}: {v}" for k, v in req.headers.items()]
        if req.method == "POST":
            head.append(f"Content-Length: {len(req.body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + req.body

    async def one(self, kind: str, at: float, t0: float, conns: Connections) -> None:
        begun = time.monotonic()  # how late the generator itself is: its send lag
        req = self.traffic.build(kind)
        raw = self._raw(req, at - t0)
        sent, status, error = 0.0, 0, ""
        try:
            # No cap on connections: each request lives at most TIMEOUT_S, so at most
            # rate × TIMEOUT_S are open (the process may open that many files).
            async with asyncio.timeout_at(at + TIMEOUT_S):
                for attempt in (1, 2):
                    reader, writer, reused = await conns.get()
                    sent = sent or time.monotonic()
                    try:
                        status, body, keep = await _exchange(reader, writer, raw)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        writer.close()
                        # The server may close an idle connection just as it is reused; the
                        # request is then sent again (writes carry an idempotency key).
                        if reused and attempt == 1:
                            self.retries += 1
                            continue
                        raise
                    if keep:
                        conns.put(reader, writer)
                    else:
                        writer.close()
                    break
            if req.after is not None:
                req.after(status, body)
        except TimeoutError:
            status, error = 0, "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            status, error = 0, f"{type(exc).__name__}: {exc}"[:120]
        done = time.monotonic()
        # The wait for a connection (a new one waits in the server's accept queue when the
        # server is behind) is the server's delay, not the generator's: recorded apart.
        connect = (sent or done) - begun
        self.records.append([req.label, at - t0, begun - at, done - at, status, error, connect])

    async def run(self) -> None:
        plan = self.plan
        rate, total = float(plan["rate"]), float(plan["warmup"]) + float(plan["seconds"])
        kinds = plan_kinds(plan["mix"], int(rate * total), plan["seed"])
        conns = Connections(self.port)
        t0 = float(plan["start"])
        tasks = set()
        for i, kind in enumerate(kinds):
            at = t0 + i / rate
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self.one(kind, at, t0, conns))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:  # each ends by its own timeout; this is a guard
            await asyncio.wait(tasks, timeout=TIMEOUT_S + 5)
        for reader_writer in conns.idle:
            reader_writer[1].close()
        self.opened = conns.opened


def generator_main() -> None:
    """The generator's process: ``python -c … PLAN RESULT``."""
    plan_file, result_file = sys.argv[1], sys.argv[2]
    plan = json.loads(Path(plan_file).read_text())
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < plan["rate"] * TIMEOUT_S + 100:
        raise SystemExit(f"the generator may need {plan['rate'] * TIMEOUT_S:.0f} connections")
    gen = Generator(plan)
    asyncio.run(gen.run())
    result = {"records": gen.records, "opened": gen.opened, "retries": gen.retries}
    Path(result_file).write_text(json.dumps(result))


# ----------------------------------------------------------------------------- the report


def _ms(values: Sequence[float], p: float) -> float:
    return percentile(values, p) * 1000


def _print(out: Out, plan: dict[str, Any], run: dict[str, Any], consoles: int) -> None:
    rate, seconds, warmup = plan["rate"], plan["seconds"], plan["warmup"]
    measured = [r for r in run["records"] if r[1] >= warmup]
    rows = summarize(measured, warmup)
    answered = sum(r.ok for r in rows.values())
    _print_setup(out, plan, run, consoles)
    end = max((r[1] + r[3] for r in measured), default=warmup + seconds)
    lags = [r[2] for r in measured]
    connects = [r[6] for r in measured]
    out(
        f"offered {rate:.0f} requests/s for {seconds:.0f} s ({len(measured):,} requests, after "
        f"{warmup:.0f} s of warm-up): sent {len(measured) / seconds:.1f}/s, answered 2xx "
        f"{answered / max(end - warmup, 1e-9):.1f}/s"
    )
    out(
        f"generator's send lag (request started − scheduled): p50 {_ms(lags, 50):.2f} ms, p99 "
        f"{_ms(lags, 99):.2f} ms, max {_ms(lags, 100):.2f} ms"
    )
    out(
        f"  then waiting for a connection (part of the latency): p50 {_ms(connects, 50):.2f} ms, "
        f"p99 {_ms(connects, 99):.2f} ms, max {_ms(connects, 100):.2f} ms; connections opened "
        f"{run['opened']}, requests resent after a keep-alive close {run['retries']}"
    )
    out("latency from the scheduled send (ms); server: the server's own time (access log, ms)")
    out(
        f"{'request':<30}{'n':>6}{'409':>5}{'errors':>7}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'max':>8}{'server p50':>11}{'p95':>7}"
    )
    server: dict[str, list[float]] = run["server"]
    for key, label in LABELS:
        row = rows.get(key)
        if row is None:
            continue
        mine = server.get(key, [])
        out(
            f"{label:<30}{row.n:>6}{row.conflicts:>5}{row.errors:>7}"
            f"{_ms(row.latencies, 50):>8.1f}{_ms(row.latencies, 95):>8.1f}"
            f"{_ms(row.latencies, 99):>8.1f}{_ms(row.latencies, 100):>8.1f}"
            f"{_ms(mine, 50):>11.1f}{_ms(mine, 95):>7.1f}"
        )
    reads = [lat for k, row in rows.items() if _kind(k) not in WRITES for lat in row.latencies]
    writes = [lat for k, row in rows.items() if _kind(k) in WRITES for lat in row.latencies]
    for name, values in (("all reads", reads), ("all writes", writes)):
        out(
            f"{name:<30}{len(values):>6}{'':>12}{_ms(values, 50):>8.1f}{_ms(values, 95):>8.1f}"
            f"{_ms(values, 99):>8.1f}{_ms(values, 100):>8.1f}"
        )
    errors = sum(r.errors for r in rows.values())
    conflicts = sum(r.conflicts for r in rows.values())
    read_p95 = _ms(reads, 95)
    met = errors == 0 and read_p95 <= GOAL_READ_P95_MS
    out(
        f"overall: {len(measured):,} requests, {errors} errors, {conflicts} conflicts (409), "
        f"read p95 {read_p95:.1f} ms — goal (0 errors, read p95 ≤ {GOAL_READ_P95_MS:.0f} ms at "
        f"{rate:.0f}/s for {seconds:.0f} s): {'met' if met else 'NOT met'}"
    )
    kinds_of_error: dict[str, int] = {}
    for r in measured:
        if r[4] == 0 or not (200 <= r[4] < 300 or (r[4] == 409 and _kind(r[0]) in WRITES)):
            key = f"{r[0]}: {r[5] or r[4]}"
            kinds_of_error[key] = kinds_of_error.get(key, 0) + 1
    for key, n in sorted(kinds_of_error.items(), key=lambda kv: -kv[1])[:6]:
        out(f"  error {key} × {n}")
    if run["log_errors"]:
        out(f"gunicorn's error log: {len(run['log_errors'])} lines, first: {run['log_errors'][0]}")


def _print_setup(out: Out, plan: dict[str, Any], run: dict[str, Any], consoles: int) -> None:
    cpu = dict(run["cpu"])
    wall = cpu.pop("wall")
    cores = len(run["placement"]["cpus"])
    out(
        f"web: gunicorn {WORKERS} workers × {THREADS} threads (gridgov run's defaults, access "
        "log on)"
    )
    out(f"cores: {cores} (CPUs {run['placement']['cpus']}), all shared: {run['placement']['how']}")
    used = {k: v / wall for k, v in cpu.items()}
    groups = ("web server", "database", "generator")
    split = ", ".join(f"{k} {used[k]:.2f}" for k in groups)
    other = max(used["machine"] - sum(used[k] for k in groups), 0.0)
    out(
        f"  cores busy on average over the measured window: {split}, other processes "
        f"{other:.2f}, idle {max(cores - used['machine'], 0.0):.2f}"
    )
    # Per request the server finished (its access log), answered in time or not.
    served = sum(len(v) for v in run["server"].values())
    busy = cpu["web server"] + cpu["database"]
    out(
        f"  server CPU per request served: {busy / max(served, 1) * 1000:.1f} ms (so {cores} "
        f"whole cores would serve at most {cores * served / max(busy, 1e-9):.0f} requests/s of "
        "this mix)"
    )
    out(
        "generator: one process, asyncio, raw HTTP/1.1 keep-alive (a new connection when none "
        f"is idle), timeout {TIMEOUT_S:.0f} s from the scheduled send"
    )
    out("mix: " + ", ".join(f"{k} {w * 100:.0f}%" for k, w in plan["mix"].items()))
    county = sum(1 for c in plan["consoles"] if c["scope"] == "county")
    out(
        f"  {consoles} open consoles polling every {POLL_INTERVAL_S:.0f} s ({county} county seats "
        f"as {OPERATOR}, {consoles - county} township seats as {TOWNSHIP_OPERATOR}); API as "
        f"{OPERATOR}; actions in equal shares: {', '.join(STEPS)} (sign and report_result as "
        f"{DEPT_USER})"
    )


# ----------------------------------------------------------------------------- in the scratch db

# A year of the district's events by state: most closed and archived, about 5 % open.
STATES = [
    ("archived", 0.78),
    ("closed", 0.12),
    ("rejected", 0.02),
    ("merged", 0.01),
    ("cancelled", 0.02),
    ("reported", 0.006),
    ("verifying", 0.002),
    ("registered", 0.004),
    ("dispatched", 0.006),
    ("returned", 0.001),
    ("in_progress", 0.02),
    ("suspended", 0.002),
    ("awaiting_check", 0.007),
]
# The loop's steps each state has been through (one timeline row each, the report first).
PATHS = {
    "reported": ["report"],
    "verifying": ["report", "send_to_verify"],
    "registered": ["report", "accept"],
    "rejected": ["report", "reject"],
    "merged": ["report", "merge"],
    "cancelled": ["report", "cancel"],
    "dispatched": ["report", "accept", "dispatch"],
    "returned": ["report", "accept", "dispatch", "return"],
    "in_progress": ["report", "accept", "dispatch", "sign"],
    "suspended": ["report", "accept", "dispatch", "sign", "approve_suspension"],
    "awaiting_check": ["report", "accept", "dispatch", "sign", "report_result"],
    "closed": ["report", "accept", "dispatch", "sign", "report_result", "verify_pass"],
    "archived": ["report", "accept", "dispatch", "sign", "report_result", "verify_pass", "archive"],
}
TO_STATE = {
    "report": "reported",
    "send_to_verify": "verifying",
    "accept": "registered",
    "reject": "rejected",
    "merge": "merged",
    "cancel": "cancelled",
    "dispatch": "dispatched",
    "return": "returned",
    "sign": "in_progress",
    "approve_suspension": "suspended",
    "report_result": "awaiting_check",
    "verify_pass": "closed",
    "archive": "archived",
}
WORDS = [
    ("占道经营", "早市摊位占用机动车道"),
    ("暴露垃圾", "小区门口垃圾桶满溢，垃圾散落在人行道上"),
    ("井盖缺失", "路口井盖缺失，行人容易跌落"),
    ("路灯不亮", "这一段路灯连续几晚都不亮"),
    ("噪音扰民", "夜间施工噪音很大"),
    ("违章停车", "车辆长期占用消防通道"),
    ("管道漏水", "路边供水管道漏水"),
]


def fill(n: int, seed: int) -> None:
    """Insert ``n`` events over Qiaoxi's grids with their timelines (raw bulk inserts, as the
    console bench), count the square map, set the case counters, and ANALYZE."""
    from django.db import connection

    from gridgov.events import square

    made = _insert_history(n, random.Random(seed))
    square.rebuild()
    with connection.cursor() as cur:
        # What autovacuum does to tables in service: statistics, and on PostgreSQL the
        # visibility map that lets it answer from an index alone.
        analyze = "VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE"
        cur.execute(analyze)
    print(json.dumps({**made, "analyze": analyze}))


def _insert_history(n: int, rng: random.Random) -> dict[str, int]:
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.utils import timezone

    from gridgov.accounts.models import User
    from gridgov.events.models import CaseCounter, Category, Event, TimelineEntry
    from gridgov.events.states import STEP_OF_STATE, State
    from gridgov.events.workflow import OPEN
    from gridgov.orgs.models import OrgUnit
    from gridgov.regions.models import Grid

    connection = connections[DEFAULT_DB_ALIAS]
    grids = list(
        Grid.objects.filter(code__startswith=COUNTY, effective_to=None).values_list(
            "code", "min_lon", "min_lat", "max_lon", "max_lat", "village__area_type"
        )
    )
    cats = list(
        Category.objects.filter(parent__isnull=False).values_list("pk", "public", "sensitive")
    )
    common = [c for c in cats if c[1] and not c[2]]
    centres = {
        u.region_id: u
        for u in OrgUnit.objects.filter(kind="centre", region__code__startswith=COUNTY)
    }
    unit = OrgUnit.objects.get(code=DEPT_UNIT)
    people = {u.username: u for u in User.objects.filter(username__in=[OPERATOR, DEPT_USER])}
    op, dept = people[OPERATOR], people[DEPT_USER]
    now = timezone.now()
    open_states = {s.value for s in OPEN}
    names, weights = zip(*STATES, strict=True)
    serial: dict[str, int] = {}
    events: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for _ in range(n):
        state = rng.choices(names, weights)[0]
        is_open = state in open_states
        code, west, south, east, north, area = rng.choice(grids)
        cat, public, sensitive = rng.choice(common if rng.random() < 0.9 else cats)
        # Open work is recent; history spreads over the year.
        age = rng.uniform(0, 10 * 86400) if is_open else rng.uniform(86400, 365 * 86400)
        at = now - timedelta(seconds=age)
        day = timezone.localtime(at).strftime("%Y%m%d")
        serial[day] = serial.get(day, 0) + 1
        to_unit = rng.random() < 0.5  # half to the department, half to the grid's workers
        title, words = rng.choice(WORDS)
        event_id = uuid.uuid4()
        path = PATHS[state]
        times = [at]
        for _step in path[1:]:
            times.append(min(times[-1] + timedelta(minutes=rng.randint(10, 600)), now))
        values: dict[str, Any] = {
            "id": event_id,
            "code": f"{settings.CASE_PREFIX}{day}{serial[day]:06d}",
            "channel": rng.choice(["web", "wechat", "app", "phone"]),
            "client_id": f"bench-mixed-{event_id.hex}",
            "title": title,
            "description": words,
            "address": f"桥西区{rng.randint(1, 400)}号",
            "lon": rng.uniform(west, east),
            "lat": rng.uniform(south, north),
            "grid_code": code,
            "area_type": area or "urban",
            "category_id": cat,
            "urgency": "urgent" if rng.random() < 0.05 else "normal",
            "state": state,
            "version": len(path),
            "receiving_centre_id": centres[code[:9]].pk,
            "is_public": public and not sensitive and "accept" in path,
            "reported_at": at,
            "updated_at": times[-1],
        }
        if "dispatch" in path:
            values["dispatched_at"] = times[path.index("dispatch")]
            values["registered_at"] = times[path.index("accept")]
            if to_unit:
                values.update(assignee_kind="unit", assignee_unit_id=unit.pk)
            else:
                values.update(assignee_kind="grid", assignee_grid=code)
        elif "accept" in path:
            values["registered_at"] = times[path.index("accept")]
        if "sign" in path:
            values["signed_at"] = times[path.index("sign")]
            values["handler_id"] = dept.pk if to_unit else None
        if "report_result" in path:
            values["result_at"] = times[path.index("report_result")]
        if "verify_pass" in path:
            values["closed_at"] = times[path.index("verify_pass")]
            values["closed_on_time"] = rng.random() < 0.9
        if "archive" in path:
            values["archived_at"] = times[-1]
        step = STEP_OF_STATE.get(State(state), "")
        if is_open and state != "suspended":
            due = times[-1] + timedelta(hours=rng.choice([2, 4, 8, 24, 72]))
            values.update(step=step, step_started_at=times[-1], step_unit="h", due_at=due)
            values["warn_at"] = due - (due - times[-1]) / 4
            values["alarm_at"] = values["warn_at"] if values["warn_at"] > now else None
            values["supervision"] = "red" if due < now else ""
            values["overdue_count"] = int(due < now)
        elif state == "suspended":
            values.update(step=step, step_started_at=times[-1], step_unit="h")
            values["paused_remaining"] = float(rng.randint(1, 24))
        events.append(values)
        for seq, (action, when) in enumerate(zip(path, times, strict=True), start=1):
            actor: Any = dept if to_unit and action in ("sign", "report_result") else op
            if action in ("sign", "report_result") and not to_unit:
                actor = None
            timeline.append(
                {
                    "event_id": event_id,
                    "seq": seq,
                    "at": when,
                    "actor_id": actor.pk if actor and action != "report" else None,
                    "actor_label": str(actor)
                    if actor and action != "report"
                    else values["channel"],
                    "action": action,
                    "from_state": TO_STATE[path[seq - 2]] if seq > 1 else "",
                    "to_state": TO_STATE[action],
                    "data": {"grid": code} if action == "report" else {},
                }
            )
    # Reports now continue today's numbering after the history's.
    for day, last in serial.items():
        CaseCounter.objects.update_or_create(day=day, defaults={"last": last})
    template = Event(
        request_hash="x",
        orig_lon=114.47,
        orig_lat=38.03,
        orig_crs="wgs84",
        county_code=COUNTY,
        area_type="urban",
        receiving_centre=centres[TOWNSHIP],
    )
    _bulk(connection, Event, events, template, None)
    _bulk(connection, TimelineEntry, timeline, TimelineEntry(), "id")
    opened = sum(1 for e in events if e["state"] in open_states)
    townships = len({g[0][:9] for g in grids})
    return {
        "events": n,
        "open": opened,
        "timeline": len(timeline),
        "grids": len(grids),
        "townships": townships,
    }


def _bulk(
    connection: Any, model: Any, drawn: list[dict[str, Any]], template: Any, skip: str | None
) -> None:
    """Insert rows in batches: COPY on PostgreSQL, executemany on SQLite."""

    from .console import _db_rows, write_rows

    fields = [f for f in model._meta.concrete_fields if f.attname != skip]
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = model._meta.db_table
    by_name = {f.attname: f for f in fields}
    for start in range(0, len(drawn), 10_000):
        batch = drawn[start : start + 10_000]
        # Every row gives the same columns (what a row leaves out is the field's default).
        keys = set().union(*(d.keys() for d in batch))
        full = [{k: d[k] if k in d else by_name[k].get_default() for k in keys} for d in batch]
        write_rows(table, cols, _db_rows(fields, template, full, connection))


def prepare(consoles: int, seed: int) -> None:
    """What the generator needs from the scratch city, as one JSON line: the consoles' sessions
    (signed in as a login makes them), the newest cursor, events to open by scope, the events
    each step may act on, points inside the grids, public categories, township codes."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import Client
    from shapely.geometry import Point

    from gridgov.accounts.models import User
    from gridgov.events import queries
    from gridgov.events.models import Category, Event
    from gridgov.events.workflow import OPEN
    from gridgov.geo.geometry import polygon_from_geojson
    from gridgov.regions.models import Grid

    rng = random.Random(seed)
    signed_in = {}
    for username in (OPERATOR, TOWNSHIP_OPERATOR):
        client = Client()
        client.force_login(User.objects.get(username=username))
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        signed_in[username] = SessionStore(session_key=key).load()
    sessions = []
    for i in range(consoles):
        # One seat in four at the county centre, the others in the townships.
        scope = "county" if i % 4 == 0 else "township"
        store = SessionStore()
        store.update(signed_in[OPERATOR if scope == "county" else TOWNSHIP_OPERATOR])
        store.create()
        sessions.append({"cookie": store.session_key, "scope": scope})

    open_states = [s.value for s in OPEN]
    in_county = Event.objects.filter(grid_code__startswith=COUNTY)

    def sample(qs: Any, k: int) -> list[list[str]]:
        rows = [[str(pk), code] for pk, code in qs.values_list("pk", "code")]
        return rng.sample(rows, min(k, len(rows)))

    def opened_mostly(qs: Any) -> list[list[str]]:
        # Seats open mostly the work in hand (four in five), sometimes an old case.
        work = sample(qs.filter(state__in=open_states), 2000)
        return work + sample(qs.exclude(state__in=open_states), max(1, len(work) // 4))

    def ids(qs: Any) -> list[str]:
        return [str(pk) for pk in qs.values_list("pk", flat=True)]

    pools = {
        "accept": ids(in_county.filter(state="reported")),
        "dispatch": ids(in_county.filter(state="registered")),
        "sign": ids(in_county.filter(state="dispatched", assignee_unit__code=DEPT_UNIT)),
        "report_result": ids(in_county.filter(state="in_progress", assignee_unit__code=DEPT_UNIT)),
        "verify_pass": ids(in_county.filter(state="awaiting_check")),
    }
    grids = list(Grid.objects.filter(code__startswith=COUNTY, effective_to=None, kind="base"))
    shapes = [polygon_from_geojson(g.boundary) for g in grids]
    points: list[list[float]] = []

    while len(points) < 2000:
        shape = rng.choice(shapes)
        west, south, east, north = shape.bounds
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if shape.contains(Point(lon, lat)):
            points.append([lon, lat])
    categories = list(
        Category.objects.filter(
            parent__isnull=False, public=True, sensitive=False, active=True
        ).values_list("code", flat=True)
    )
    print(
        json.dumps(
            {
                "consoles": sessions,
                "cursor": queries.latest_change(),
                "events": {
                    "county": opened_mostly(in_county),
                    "township": opened_mostly(in_county.filter(grid_code__startswith=TOWNSHIP)),
                },
                "pools": pools,
                "points": points,
                "categories": categories,
                "townships": sorted({g.code[:9] for g in grids}),
            }
        )
    )
