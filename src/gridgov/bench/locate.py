"""`gridgov bench locate`: how fast the locator is, beside a naive scan measured in the same run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import psutil
import shapely

from gridgov.geo.locator import GridLocator
from gridgov.regions.locator import rows_from_db


def _rss_mb(pid: int | None = None) -> float:
    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20


def _points(locator: GridLocator, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Mostly points inside grids (as real reports are), some anywhere in the city's extent."""
    rng = np.random.default_rng(seed)
    geoms = locator.base.geoms
    bounds = shapely.bounds(geoms)
    pick = rng.integers(0, len(geoms), n)
    lons = rng.uniform(bounds[pick, 0], bounds[pick, 2])
    lats = rng.uniform(bounds[pick, 1], bounds[pick, 3])
    anywhere = rng.random(n) < 0.1
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    lons[anywhere] = rng.uniform(minx, maxx, anywhere.sum())
    lats[anywhere] = rng.uniform(miny, maxy, anywhere.sum())
    return lons, lats


def _rate(fn: Callable[[int], object], count: int, budget_s: float) -> float:
    """Calls fn(i) for i in range(count) or until the time budget is spent; returns calls/s."""
    started = time.perf_counter()
    done = 0
    while done < count:
        fn(done)
        done += 1
        if done % 64 == 0 and time.perf_counter() - started > budget_s:
            break
    return done / (time.perf_counter() - started)


def naive_locate(geoms: np.ndarray, codes: list[str], lon: float, lat: float) -> str | None:
    """The baseline: test the point against every polygon (vectorised, no index)."""
    hits = np.nonzero(shapely.intersects_xy(geoms, lon, lat))[0]
    return codes[int(hits[0])] if len(hits) else None


def run(out: Callable[[str], None], samples: int = 20000, budget_s: float = 3.0) -> None:
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    rows = rows_from_db()
    locator = GridLocator(rows)
    build_s = time.perf_counter() - t0
    rss1 = _rss_mb()
    out(f"grids: {len(locator.base)} base + {len(locator.dedicated)} dedicated")
    out(
        f"build from database: {build_s:.2f} s; process RSS {rss0:.0f} → {rss1:.0f} MB "
        f"(locator + parsed rows ≈ {rss1 - rss0:.0f} MB)"
    )
    lons, lats = _points(locator, samples)

    single = _rate(lambda i: locator.locate(lons[i], lats[i]), samples, budget_s)
    t = time.perf_counter()
    batched_codes = locator.locate_many(lons, lats)
    batched = samples / (time.perf_counter() - t)

    base_geoms = locator.base.geoms.copy()
    shapely.destroy_prepared(base_geoms)
    all_geoms = np.concatenate([locator.dedicated.geoms, base_geoms])
    codes = [r.code for r in locator.dedicated.rows] + [r.code for r in locator.base.rows]
    naive = _rate(lambda i: naive_locate(all_geoms, codes, lons[i], lats[i]), samples, budget_s)

    checked = min(300, samples)
    agree = sum(
        naive_locate(all_geoms, codes, lons[i], lats[i]) == batched_codes[i] for i in range(checked)
    )
    out(f"{'method':<34}{'lookups/s':>14}{'vs naive':>10}")
    out(f"{'naive scan over all polygons':<34}{naive:>14,.0f}{1:>10.1f}x")
    out(f"{'GridLocator.locate (single)':<34}{single:>14,.0f}{single / naive:>10.1f}x")
    out(f"{'GridLocator.locate_many (batch)':<34}{batched:>14,.0f}{batched / naive:>10.1f}x")
    out(
        f"agreement with naive scan on {checked} points: {agree}/{checked} "
        "(differences only on shared edges or dedicated-over-base picks)"
    )


def web_rss(out: Callable[[str], None]) -> None:
    """Start one gunicorn worker, make it load the locator, report its resident memory."""
    from .webserver import gunicorn

    with gunicorn() as (proc, _port):
        for w in psutil.Process(proc.pid).children():
            out(
                f"web worker pid {w.pid} with the locator loaded: RSS {_rss_mb(w.pid):.0f} MB "
                "(target < 300 MB)"
            )
