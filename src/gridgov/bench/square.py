"""``gridgov bench square``: the square map's server time with many public events.

Builds a scratch database (as the other benchmarks) with the demo's Qiaoxi district, inserts
``events`` accepted events in public categories spread over about 30 × 30 km around it, then
times, in a fresh process through Django's whole request stack: one map tile at each zoom (the
tile that holds the centre of the events), a tap on the finest dot, and the tiles a phone's
screen needs at city zoom; each with the tile cache off (what the first visitor pays) and on.
Baseline in the same run: the bare COUNT(*) of the public events in the same tile's box.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from .console import _timed, insert_events
from .events import Out, _in_scratch, gridgov, scratch_env

MODULE = "gridgov.bench.square"
TOWNSHIP = "130104008"
CENTRE = (114.50, 38.04)
SPREAD = 0.3  # degrees each way


def bench_square(out: Out, events: int = 100_000, samples: int = 30) -> None:
    with scratch_env() as env:
        out(f"scratch database: {env.get('GRIDGOV_SQLITE_PATH') or env.get('GRIDGOV_PG_NAME')}")
        gridgov(env, "migrate", "-v0")
        gridgov(env, "demo", "--county", "130104")
        t = time.perf_counter()
        _in_scratch(env, f"fill({events})", MODULE)
        out(f"{events:,} public events inserted in {time.perf_counter() - t:.0f} s")
        measured = _in_scratch(env, f"measure({samples})", MODULE)
        figures = json.loads(measured.strip().splitlines()[-1])
    out(f"server time per request over {samples} requests (ms), {events:,} public events:")
    out(f"{'':52}{'median':>9}{'p95':>9}{'cells':>7}")
    for label, (med, p95, cells) in figures.items():
        out(f"{label:52}{med:>9.1f}{p95:>9.1f}{cells:>7}")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    rad = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)


# ----------------------------------------------------------------------------- in the scratch db


def fill(n: int) -> None:
    """Insert ``n`` accepted events, then make them public and spread them out."""
    from django.db import connection, transaction

    from gridgov.events.models import Event

    states = [("registered", 0.1), ("dispatched", 0.1), ("in_progress", 0.2), ("closed", 0.6)]
    insert_events(n, TOWNSHIP, states=states, prefix="SQ")
    from gridgov.events import square

    table = connection.ops.quote_name(Event._meta.db_table)
    if connection.vendor == "postgresql":
        rand = "random()"
    else:
        rand = "((abs(random()) % 1000000) / 1000000.0)"
    west, south = CENTRE[0] - SPREAD, CENTRE[1] - SPREAD
    sql = (
        f"UPDATE {table} SET is_public = TRUE, "  # noqa: S608 — our own table and numbers
        f"lon = {west} + {2 * SPREAD} * {rand} * {rand}, "
        f"lat = {south} + {2 * SPREAD} * {rand} * {rand} "
        "WHERE code LIKE 'SQ%%'"
    )
    # a product of two uniforms: dense towards the south-west corner, like a city centre
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
        if connection.vendor == "postgresql":
            cur.execute(f"ANALYZE {table}")
        else:
            cur.execute("ANALYZE")
    square.rebuild()  # the rows went in around the engine: count them as a migration would


def measure(samples: int) -> None:
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from gridgov.events import public

    c = Client()
    figures: dict[str, Any] = {}
    lon, lat = CENTRE[0] - SPREAD * 0.9, CENTRE[1] - SPREAD * 0.9  # where the events are dense
    table = connection.ops.quote_name("events_event")

    def count_in(z: int) -> Any:
        x, y = tile_of(lon, lat, z)
        box = public.tile_box(z, x, y)

        def run() -> None:
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE is_public "  # noqa: S608
                    "AND lat >= %s AND lat < %s AND lon >= %s AND lon < %s",
                    [box.south, box.north, box.west, box.east],
                )
                cur.fetchall()

        return run

    def tile(z: int, x: int, y: int, query: str = "") -> Any:
        def run() -> int:
            r = c.get(f"/api/v1/public/square/tiles/{z}/{x}/{y}{query}")
            assert r.status_code == 200, r.content
            return len(r.json()["cells"])

        return run

    for cached in (False, True):
        settings.SQUARE_CACHE_SECONDS = 60 if cached else 0
        cache.clear()
        note = "cached" if cached else "no cache"
        for z in (9, 11, 13, 15, 17):
            x, y = tile_of(lon, lat, z)
            fn = tile(z, x, y)
            cells = fn()
            if not cached:
                figures[f"baseline: COUNT(*) in the z{z} tile's box"] = (
                    *_timed(count_in(z), samples),
                    0,
                )
            figures[f"tile z{z} ({note})"] = (*_timed(fn, samples), cells)
        x, y = tile_of(lon, lat, 12)
        filtered = tile(12, x, y, "?category=02&stage=done")
        figures[f"tile z12, one class, done only ({note})"] = (
            *_timed(filtered, samples),
            filtered(),
        )
        # a phone's screen at city zoom: about 2 × 3 tiles of 256 px
        screen = [tile(12, x + dx, y + dy) for dx in (0, 1) for dy in (0, 1, 2)]

        def whole_screen(tiles: list[Any] = screen) -> int:
            return sum(fn() for fn in tiles)

        figures[f"a phone's screen at z12, 6 tiles ({note})"] = (
            *_timed(whole_screen, samples),
            whole_screen(),
        )
    settings.SQUARE_CACHE_SECONDS = 0
    x, y = tile_of(lon, lat, 18)
    cells = c.get(f"/api/v1/public/square/tiles/18/{x}/{y}").json()["cells"] or [
        {"lon": lon, "lat": lat}
    ]
    spot = cells[0]

    def tap() -> int:
        r = c.get(f"/api/v1/public/square/spot?lon={spot['lon']}&lat={spot['lat']}")
        assert r.status_code == 200
        return len(r.json())

    figures["tap on a dot: the list at one place (no cache)"] = (*_timed(tap, samples), tap())
    print(json.dumps(figures))
