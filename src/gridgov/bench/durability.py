"""``gridgov bench durability``: reports over HTTP while the web server is killed with kill -9.

A scratch database with the demo's Qiaoxi district, gunicorn started as ``gridgov run`` starts it
(2 workers × 4 threads), in a session of its own so the whole group — master and workers — can
be killed at once. ``clients`` threads report events (``POST /api/v1/events``) with a bearer
token; on a connection error, a timeout or a 5xx a client sends the same key and body again
until the server answers, and only then counts the report as acknowledged. Now and then a client
replays a key it was already answered on and expects the same event. Meanwhile the whole server
group is killed ``kills`` times, ``interval`` seconds apart, and restarted on the same port.

Afterwards the scratch database itself is asked: is every acknowledged report there, under its
key and with the id its client was given (missing)? Does any key have two events (duplicates)?
Did every key that was retried end as exactly the one event its client was given (converged)?
Has every event its first timeline row and the answer kept for replays, and every kept answer
its event (torn)? Does the audit chain still verify? The run holds only if all of them do.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import Out, scratch_env
from .webserver import command, wait_until_up

COUNTY = "130104"
OPERATOR = "qiaoxi_operator"
PG_NAME = "gridgov_bench_durability"
HTTP_TIMEOUT = 10.0  # every request; a hung server must not hang the bench
START_TIMEOUT = 90.0  # one gunicorn start, until it answers its health check
FINISH_TIMEOUT = 30.0  # after stop, for a client to get its last key answered
REPLAY_SHARE = 0.1  # of a client's requests: an acknowledged key sent again on purpose
RETRY_PAUSE = (0.05, 0.5)  # back-off between attempts of one key, first and longest


# ----------------------------------------------------------------------------- scratch database


@contextmanager
def durability_env(pg_name: str = PG_NAME) -> Iterator[dict[str, str]]:
    """The benchmarks' scratch environment; a PostgreSQL scratch database is dropped after."""
    with scratch_env(pg_name, drop=True) as env:
        yield {**env, "DJANGO_SETTINGS_MODULE": "gridgov.settings"}


def build(env: dict[str, str], quick: bool = False) -> tuple[str, list[tuple[float, float]]]:
    """Migrate, load the county, issue the operator's token; (token, points inside its grids).

    ``quick`` does it all in one process with a fast password hasher for the demo accounts
    (hashing their passwords is most of the county's load time, and here nobody signs in)."""
    if quick:
        made = _last_json(_in_scratch(env, "quick_build()"))
    else:
        _child(env, "-m", "gridgov", "migrate", "-v0")
        _child(env, "-m", "gridgov", "demo", "--county", COUNTY)
        token = _child(env, "-m", "gridgov", "token", OPERATOR, "bench").strip()
        made = {"token": token, "points": _last_json(_in_scratch(env, "print_points()"))}
    return made["token"], [(p[0], p[1]) for p in made["points"]]


def quick_build() -> None:
    """In the scratch process: ``build(quick=True)``'s work; prints token and points as JSON."""
    import io

    from django.conf import settings
    from django.core.management import call_command

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    call_command("demo", "--county", COUNTY, stdout=io.StringIO())
    raw = io.StringIO()
    call_command("token", OPERATOR, "bench", stdout=raw)
    print(json.dumps({"token": raw.getvalue().strip(), "points": _points()}))


def print_points() -> None:
    print(json.dumps(_points()))


def _points(n: int = 500) -> list[list[float]]:
    """In the scratch process: a point inside each of the county's first ``n`` base grids."""
    from gridgov.geo.geometry import polygon_from_geojson
    from gridgov.regions.models import Grid

    grids = Grid.objects.filter(code__startswith=COUNTY, effective_to=None, kind="base")[:n]
    points = [polygon_from_geojson(g.boundary).representative_point() for g in grids]
    return [[p.x, p.y] for p in points]


def _in_scratch(env: dict[str, str], call: str) -> str:
    code = f"import django; django.setup()\nfrom gridgov.bench.durability import *\n{call}\n"
    return _child(env, "-c", code)


def _last_json(stdout: str) -> Any:
    return json.loads(stdout.strip().splitlines()[-1])


def _child(env: dict[str, str], *args: str) -> str:
    """A Python child on the scratch environment; its stdout (a bounded wait: no hang)."""
    proc = subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return proc.stdout


# ----------------------------------------------------------------------------- the web server


def fixed_port() -> int:
    """A free loopback port below the ephemeral range, so that no client connection can be
    handed the server's port as its own while the server is down."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in 20000-32000")


class Web:
    """gunicorn as production starts it, in its own session (its pid is the group's id)."""

    def __init__(self, env: dict[str, str], port: int, log: Path, workers: int, threads: int):
        self.env, self.port, self.log = env, port, log
        self.command = command(
            port,
            workers,
            threads,
            "--graceful-timeout",
            "10",
            # as `gridgov run`: the installation's control socket, left behind by every kill -9
            "--control-socket",
            str(Path(env["GRIDGOV_DATA_DIR"]) / "gunicorn.ctl"),
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self._tail()}")
            try:
                wait_until_up(self.port, attempts=1)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer:\n{self._tail()}") from None

    def kill(self) -> None:
        """kill -9 the whole group, master and workers, and wait until they are gone."""
        import psutil

        if self.proc is None:
            return
        try:
            workers = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            workers = []
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        # orphaned workers are reaped by init; dead (a zombie holds no socket) is enough
        deadline = time.monotonic() + 10
        for w in workers:
            while time.monotonic() < deadline:
                try:
                    if w.status() == psutil.STATUS_ZOMBIE:
                        break
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.02)
        self.proc = None

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


# ----------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Ack:
    event_id: str
    code: str
    at: float  # time.monotonic() of the answer
    sent: float  # time.time() the answered attempt was sent
    retried: bool  # the key saw at least one failed attempt before its answer


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, Ack] = field(default_factory=dict)
    abandoned: list[str] = field(default_factory=list)  # never answered: stopped while retrying
    failures: Counter[str] = field(default_factory=Counter)  # failed attempts by kind
    replays: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # 4xx other than 429
    last_answer: float = float("-inf")  # time.monotonic() of the newest acknowledgement

    def retried(self) -> set[str]:
        return {k for k, a in self.acked.items() if a.retried}

    def answered_since(self, t: float, timeout: float = FINISH_TIMEOUT) -> None:
        """Wait (bounded) until some report is acknowledged after ``t``: a kill before the
        first answer, or a stop before one after the last restart, would prove less."""
        deadline = time.monotonic() + timeout
        while self.last_answer <= t and time.monotonic() < deadline:
            time.sleep(0.05)


class _Client:
    def __init__(
        self,
        port: int,
        token: str,
        points: list[tuple[float, float]],
        tally: Tally,
        stop: threading.Event,
        abandon: threading.Event,
    ):
        self.port, self.points, self.tally = port, points, tally
        self.stop, self.abandon = stop, abandon
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.rng = random.Random()
        self.conn: http.client.HTTPConnection | None = None
        self.mine: list[tuple[str, str]] = []  # (key, body) this client was answered on

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.mine and self.rng.random() < REPLAY_SHARE:
                    self._replay()
                else:
                    self._report()
        finally:
            if self.conn is not None:
                self.conn.close()

    def _report(self) -> None:
        key = str(uuid.uuid4())
        lon, lat = self.rng.choice(self.points)
        body = json.dumps(
            {
                "client_id": key,
                "channel": "app",
                "title": "占道经营",
                "description": "耐久性压测上报",
                "lon": lon,
                "lat": lat,
                "category": "0201",
            }
        )
        answer, failures, sent = self._until_answered(key, body)
        with self.tally.lock:
            if answer is None:
                self.tally.abandoned.append(key)
                return
            now = time.monotonic()
            self.tally.acked[key] = Ack(
                str(answer["id"]), str(answer["code"]), now, sent, failures > 0
            )
            self.tally.last_answer = now
        self.mine.append((key, body))

    def _replay(self) -> None:
        key, body = self.rng.choice(self.mine)
        answer, _, _ = self._until_answered(key, body)
        with self.tally.lock:
            if answer is None:
                return
            self.tally.replays += 1
            first = self.tally.acked[key]
            if str(answer["id"]) != first.event_id or str(answer["code"]) != first.code:
                self.tally.replay_mismatches.append(
                    f"{key}: first {first.event_id} {first.code}, now {answer['id']} "
                    f"{answer['code']}"
                )

    def _until_answered(self, key: str, body: str) -> tuple[dict[str, Any] | None, int, float]:
        """Send until 200/201 (the answer) or a 4xx (unexpected); None when abandoned.
        Returns (answer, failed attempts, time.time() the last attempt was sent)."""
        failures, pause, sent = 0, RETRY_PAUSE[0], 0.0
        while not self.abandon.is_set():
            sent = time.time()
            try:
                status, text = self._post(body)
            except (OSError, http.client.HTTPException) as exc:
                status, text = 0, type(exc).__name__
                self._reconnect()
            if status in (200, 201):
                return json.loads(text), failures, sent
            if 400 <= status < 500 and status != 429:
                with self.tally.lock:
                    self.tally.unexpected.append(f"{key}: {status} {text[:200]}")
                return None, failures, sent
            failures += 1
            with self.tally.lock:
                self.tally.failures[text if status == 0 else str(status)] += 1
            self.abandon.wait(pause * (0.5 + self.rng.random()))
            pause = min(pause * 2, RETRY_PAUSE[1])
        return None, failures, sent

    def _post(self, body: str) -> tuple[int, str]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        self.conn.request("POST", "/api/v1/events", body.encode(), self.headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")

    def _reconnect(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


# ----------------------------------------------------------------------------- verification


@dataclass
class Findings:
    """What the database says about the keys the clients were answered on."""

    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    not_converged: list[str] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)
    chain_problems: list[str] = field(default_factory=list)
    events: int = 0


def check(
    acked: dict[str, str],
    retried: set[str],
    events: list[tuple[str, str]],
    records: dict[str, str],
    first_rows: set[str],
) -> Findings:
    """``acked``: key → the event id its client was given; ``events``: (client_id, id) of every
    event in the database; ``records``: key → event id of the answers kept for replays;
    ``first_rows``: ids of events that have their first timeline row."""
    found = Findings(events=len(events))
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, event_id in events:
        by_key[key].append(event_id)
    ids = {event_id for _, event_id in events}
    found.missing = [k for k, eid in acked.items() if eid not in by_key.get(k, [])]
    found.duplicates = [k for k, eids in by_key.items() if len(eids) > 1]
    found.not_converged = [k for k in retried if by_key.get(k) != [acked[k]]]
    for key, event_id in events:
        if records.get(key) != event_id:
            found.torn.append(f"event {event_id} ({key}): no answer kept for replays")
        if event_id not in first_rows:
            found.torn.append(f"event {event_id} ({key}): no first timeline row")
    for key, event_id in records.items():
        if event_id not in ids:
            found.torn.append(f"answer kept for {key} names {event_id}, which does not exist")
    return found


def dump() -> None:
    """In the scratch process: events, kept answers, first timeline rows and the audit chain's
    problems, as JSON on stdout."""
    from gridgov.core import verify
    from gridgov.core.models import AuditLog, IdempotencyRecord
    from gridgov.events.intake import OPERATION
    from gridgov.events.models import Event, TimelineEntry

    rows = Event.objects.values_list("client_id", "id", "reported_at")
    events = [[k, str(i), at.timestamp()] for k, i, at in rows]
    records = dict(
        IdempotencyRecord.objects.filter(operation=OPERATION).values_list("key", "object_id")
    )
    first = [str(i) for i in TimelineEntry.objects.filter(seq=1).values_list("event_id", flat=True)]
    problems = [str(p) for p in verify.verify()]
    print(
        json.dumps(
            {
                "events": events,
                "records": records,
                "first_rows": first,
                "chain_problems": problems,
                "audit_rows": AuditLog.objects.count(),
            }
        )
    )


def verify_scratch(env: dict[str, str], tally: Tally) -> tuple[Findings, int, int]:
    """(findings, audit rows, retried keys answered from the kept answer) read from the scratch
    database by a fresh process. A retried key's event registered before its answered attempt
    was sent was made by an earlier attempt: the kill fell between its commit and the answer
    reaching the client, and the retry was answered as a replay."""
    data = _last_json(_in_scratch(env, "dump()"))
    found = check(
        {k: a.event_id for k, a in tally.acked.items()},
        tally.retried(),
        [(k, i) for k, i, _ in data["events"]],
        data["records"],
        set(data["first_rows"]),
    )
    found.chain_problems = data["chain_problems"]
    registered = {i: at for _, i, at in data["events"]}
    replayed = sum(
        1
        for a in tally.acked.values()
        if a.retried and registered.get(a.event_id, float("inf")) < a.sent
    )
    return found, int(data["audit_rows"]), replayed


# ----------------------------------------------------------------------------- the run


@dataclass
class Result:
    kills_asked: int
    clients: int
    kills: int = 0
    seconds: float = 0.0
    down_seconds: list[float] = field(default_factory=list)  # each kill until answering again
    acked: int = 0
    retried: int = 0
    retried_replayed: int = 0  # retried keys whose first commit survived the kill unanswered
    abandoned: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    replays: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    acked_before_first_kill: int = 0
    acked_after_last_restart: int = 0
    first_answer_after: float = float("nan")  # seconds from the clients' start
    first_kill_after: float = float("nan")
    audit_rows: int = 0
    findings: Findings = field(default_factory=Findings)

    @property
    def ok(self) -> bool:
        f = self.findings
        return (
            self.kills == self.kills_asked
            and not (f.missing or f.duplicates or f.not_converged or f.torn or f.chain_problems)
            and not (self.replay_mismatches or self.unexpected)
        )


def run(
    out: Out,
    kills: int = 10,
    clients: int = 8,
    interval: float = 3.0,
    *,
    pg_name: str = PG_NAME,
    quick: bool = False,
    tail: float | None = None,
    workers: int = 2,
    threads: int = 4,
) -> Result:
    """Build the scratch database, report under kills, verify; ``tail`` seconds of reporting
    after the last restart (default: one interval)."""
    result = Result(kills, clients)
    with durability_env(pg_name) as env:
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        t = time.perf_counter()
        token, points = build(env, quick)
        out(f"built in {time.perf_counter() - t:.1f} s")
        web = Web(
            env, fixed_port(), Path(env["GRIDGOV_DATA_DIR"]) / "gunicorn.log", workers, threads
        )
        tally = Tally()
        try:
            web.start()
            _load_under_kills(web, token, points, tally, result, interval, tail)
        finally:
            web.kill()
        result.findings, result.audit_rows, result.retried_replayed = verify_scratch(env, tally)
    return result


def _load_under_kills(
    web: Web,
    token: str,
    points: list[tuple[float, float]],
    tally: Tally,
    result: Result,
    interval: float,
    tail: float | None,
) -> None:
    stop, abandon = threading.Event(), threading.Event()
    pool = [
        threading.Thread(
            target=_Client(web.port, token, points, tally, stop, abandon).run,
            name=f"durability-client-{i}",
            daemon=True,  # a stuck client must never keep the process alive
        )
        for i in range(result.clients)
    ]
    killed_at: list[float] = []
    up_at: list[float] = []
    start = time.monotonic()
    for t in pool:
        t.start()
    try:
        for _ in range(result.kills_asked):
            time.sleep(interval * (0.75 + 0.5 * random.random()))  # not in step with clients
            if not killed_at:
                tally.answered_since(start)
            killed_at.append(time.monotonic())
            web.kill()
            result.kills += 1
            web.start()
            up_at.append(time.monotonic())
        time.sleep(interval if tail is None else tail)
        if up_at:
            tally.answered_since(up_at[-1])
    finally:
        stop.set()
        finish_by = time.monotonic() + FINISH_TIMEOUT
        for t in pool:
            t.join(max(0.0, finish_by - time.monotonic()))
        abandon.set()  # whoever is still retrying gives up now
        for t in pool:
            t.join(HTTP_TIMEOUT + 5)
    result.seconds = time.monotonic() - start
    with tally.lock:
        acks = list(tally.acked.values())
        result.acked = len(acks)
        result.retried = len(tally.retried())
        result.abandoned = len(tally.abandoned)
        result.failures = Counter(tally.failures)
        result.replays = tally.replays
        result.replay_mismatches = list(tally.replay_mismatches)
        result.unexpected = list(tally.unexpected)
    result.down_seconds = [u - k for k, u in zip(killed_at, up_at, strict=False)]
    if acks:
        result.first_answer_after = min(a.at for a in acks) - start
    if killed_at and up_at:
        result.first_kill_after = killed_at[0] - start
        result.acked_before_first_kill = sum(a.at < killed_at[0] for a in acks)
        result.acked_after_last_restart = sum(a.at > up_at[-1] for a in acks)


def report(out: Out, r: Result) -> None:
    f = r.findings
    down = sum(r.down_seconds) / len(r.down_seconds) if r.down_seconds else 0.0
    rows: list[tuple[str, str]] = [
        ("kills (kill -9 of the gunicorn group)", f"{r.kills} / {r.kills_asked}"),
        ("  mean time until answering again (s)", f"{down:.2f}"),
        ("acknowledged reports", f"{r.acked:,}"),
        (
            "  before the first kill / after the last",
            f"{r.acked_before_first_kill} / {r.acked_after_last_restart}",
        ),
        (
            "  first answer / first kill after (s)",
            f"{r.first_answer_after:.2f} / {r.first_kill_after:.2f}",
        ),
        ("  acknowledged reports/s (kills included)", f"{r.acked / max(r.seconds, 1e-9):,.1f}"),
        ("retried keys (failed attempt, then answered)", f"{r.retried:,}"),
        ("  answered as a replay (committed, then killed)", f"{r.retried_replayed:,}"),
        ("  failed attempts in all", f"{r.failures.total():,}"),
        ("keys never answered (stopped while retrying)", f"{r.abandoned}"),
        ("replays of answered keys / other answer", f"{r.replays} / {len(r.replay_mismatches)}"),
        ("unexpected 4xx answers", f"{len(r.unexpected)}"),
        ("events in the database", f"{f.events:,}"),
        ("MISSING acknowledged reports", f"{len(f.missing)}"),
        ("DUPLICATE events (keys with more than one)", f"{len(f.duplicates)}"),
        ("retried keys not converged to their one event", f"{len(f.not_converged)}"),
        ("torn events (no replay answer / first row)", f"{len(f.torn)}"),
        ("audit chain", "ok" if not f.chain_problems else f"{len(f.chain_problems)} problems"),
        ("  audit rows", f"{r.audit_rows:,}"),
    ]
    out(f"{r.clients} clients reporting for {r.seconds:.1f} s; gunicorn killed {r.kills} times")
    out(f"{'measure':<48}{'value':>14}")
    for name, value in rows:
        out(f"{name:<48}{value:>14}")
    for label, items in (
        ("missing", f.missing),
        ("duplicates", f.duplicates),
        ("not converged", f.not_converged),
        ("torn", f.torn),
        ("audit chain", f.chain_problems),
        ("replay answered otherwise", r.replay_mismatches),
        ("unexpected", r.unexpected),
    ):
        if items:
            out(f"  {label}: {items[:5]}")
    if r.failures:
        kinds = ", ".join(f"{k} {n}" for k, n in r.failures.most_common())
        out(f"  failed attempts by kind: {kinds}")
    out("durability: HELD" if r.ok else "durability: BROKEN")


def bench_durability(out: Out, kills: int = 10, clients: int = 8, interval: float = 3.0) -> bool:
    result = run(out, kills, clients, interval)
    report(out, result)
    return result.ok
