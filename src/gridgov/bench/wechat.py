"""``gridgov bench wechat``: the official account's callback under a campaign's burst.

Against gunicorn on a scratch database with the demo's Qiaoxi district: ``users`` openids each
hold one conversation — three descriptions, a location, then 提交 — on WeChat's schedule (a
user's messages one after another, two seconds apart; users starting at random within the
first two seconds), so 200 text messages and 50 locations arrive within about 10 s. Each
request's time to the answer is measured; WeChat gives up after 5 s and wants far less.
Baseline in the same run, same server and schedule: WeChat's URL check (signature only, no
database), the floor of a request through the stack. Afterwards the scratch database is asked
how many reports each conversation made (exactly one each)."""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .events import Out, _in_scratch, _pct, _points, gridgov, scratch_env
from .webserver import gunicorn

MODULE = "gridgov.bench.wechat"
COUNTY = "130104"
TOKEN = "bench-wechat-token"  # noqa: S105  (the scratch server's own, not a secret)
WARM_UP = 2  # conversations before measuring
GAP = 2.0  # seconds between one user's messages
WORDS = ["路口有人占道经营", "摊位堵住了人行道", "早晚高峰特别严重", "提交"]


def bench_wechat(out: Out, users: int = 50, workers: int = 2, threads: int = 4) -> None:
    with scratch_env() as env:
        env = {**env, "GRIDGOV_WECHAT_TOKEN": TOKEN}
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        gridgov(env, "migrate", "-v0")
        gridgov(env, "demo", "--county", COUNTY)
        points = _points(env, COUNTY, users)
        with gunicorn(env, workers, threads) as (_web, port):
            _run(port, points, _conversation, WARM_UP)  # warm up: locator, caches
            base = _run(port, points, _url_checks, users)
            talk = _run(port, points, _conversation, users)
        made = json.loads(_in_scratch(env, "count()", MODULE).strip().splitlines()[-1])
    _print(out, users, workers, threads, base, talk, made)


def _signed(path_extra: str = "") -> str:
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    parts = "".join(sorted([TOKEN, ts, nonce]))
    sig = hashlib.sha1(parts.encode(), usedforsecurity=False).hexdigest()
    return f"/wechat/callback?signature={sig}&timestamp={ts}&nonce={nonce}{path_extra}"


def _xml(openid: str, kind: str, body: str) -> bytes:
    msg_id = random.randrange(10**17, 10**18)
    return (
        f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
        f"{body}<MsgId>{msg_id}</MsgId></xml>"
    ).encode()


Timings = dict[str, list[float]]
Script = Callable[[int, str, tuple[float, float], float, Timings], None]


def _timed(port: int, method: str, path: str, body: bytes | None) -> float:
    """One request on a new connection (as WeChat's servers send them), to the full answer."""
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers={"Content-Type": "text/xml"})
    r = conn.getresponse()
    r.read()
    conn.close()
    if r.status != 200:
        raise RuntimeError(f"{method} {path[:30]} answered {r.status}")
    return time.perf_counter() - t


def _wait_until(at: float) -> None:
    time.sleep(max(0.0, at - time.perf_counter()))


def _conversation(
    port: int,
    openid: str,
    point: tuple[float, float],
    start: float,
    timings: Timings,
) -> None:
    from gridgov.geo.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(*point)
    steps = [("text", f"<Content><![CDATA[{w}]]></Content>") for w in WORDS[:3]]
    steps.append(("location", f"<Location_X>{lat}</Location_X><Location_Y>{lon}</Location_Y>"))
    steps.append(("text", f"<Content><![CDATA[{WORDS[3]}]]></Content>"))
    for n, (kind, body) in enumerate(steps):
        _wait_until(start + n * GAP)
        took = _timed(port, "POST", _signed(), _xml(openid, kind, body))
        timings.setdefault(kind, []).append(took)


def _url_checks(
    port: int,
    openid: str,
    point: tuple[float, float],
    start: float,
    timings: Timings,
) -> None:
    for n in range(len(WORDS) + 1):
        _wait_until(start + n * GAP)
        timings.setdefault("url check", []).append(_timed(port, "GET", _signed("&echostr=1"), None))


def _run(port: int, points: list[tuple[float, float]], script: Script, users: int) -> Timings:
    """Every user's script in its own thread (its own connection), on the shared schedule."""
    timings: Timings = {}
    errors: list[str] = []
    t0 = time.perf_counter() + 0.5
    lock = threading.Lock()

    def user(n: int) -> None:
        mine: Timings = {}
        try:
            script(
                port,
                f"obench{n:04d}{uuid.uuid4().hex[:12]}",
                points[n % len(points)],
                t0 + random.uniform(0, GAP),
                mine,
            )
        except Exception as exc:  # report, do not hide
            errors.append(str(exc))
        with lock:
            for k, v in mine.items():
                timings.setdefault(k, []).extend(v)

    pool = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    timings["wall"] = [time.perf_counter() - t0]
    if errors:
        timings["errors"] = [float(len(errors))]
        print("errors:", errors[:5])
    return timings


def _print(
    out: Out, users: int, workers: int, threads: int, base: Timings, talk: Timings, made: Any
) -> None:
    out(f"web: gunicorn {workers} workers × {threads} threads; {users} WeChat users at once")
    out(f"{'request':<34}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    rows = [("URL check (baseline)", base["url check"])]
    rows += [("text message", talk.get("text", [])), ("location message", talk.get("location", []))]
    rows.append(("all messages", talk.get("text", []) + talk.get("location", [])))
    for label, values in rows:
        ms = [v * 1000 for v in values]
        out(
            f"{label:<34}{len(ms):>6}{_pct(ms, 50):>10.1f}{_pct(ms, 95):>10.1f}"
            f"{_pct(ms, 99):>10.1f}{max(ms, default=float('nan')):>10.1f}"
        )
    out(f"conversation burst: {talk['wall'][0]:.1f} s; errors: {int(talk.get('errors', [0])[0])}")
    out(
        f"reports: {made['reports']} from {made['conversations']} finished conversations "
        f"({WARM_UP} of them the warm-up); "
        f"openids with more than one report: {made['doubled']}"
    )


# ----------------------------------------------------------------------------- in the scratch db


def count() -> None:
    from django.db.models import Count

    from gridgov.channels.wechat.models import Draft
    from gridgov.events.models import Event

    reports = Event.objects.filter(channel="wechat")
    doubled = (
        reports.values("reporter_openid_index").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    finished = Draft.objects.filter(status="done", event__isnull=False).count()
    print(json.dumps({"reports": reports.count(), "conversations": finished, "doubled": doubled}))
