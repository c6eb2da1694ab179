"""The platform's real web server on the test database (committed data), for tests that must
go through HTTP: memory under hostile uploads, API fuzzing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

from gridgov.bench.webserver import gunicorn


def test_db_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that works on this test run's database and scratch
    directories (never the installation's)."""
    name = str(connection.settings_dict["NAME"])
    assert "test" in name, f"refusing to point a server at {name}"
    # no live stream unless a test starts one: a console would try to open it
    env = {**os.environ, "GRIDGOV_DATA_DIR": str(settings.DATA_DIR), "GRIDGOV_STREAM_URL": ""}
    env.update(extra)
    if connection.vendor == "sqlite":
        env.update(GRIDGOV_DB="sqlite", GRIDGOV_SQLITE_PATH=name)
    else:
        env.update(GRIDGOV_DB="postgres", GRIDGOV_PG_NAME=name)
    return env


@contextmanager
def live_server(workers: int = 1, threads: int = 4, **extra: str) -> Iterator[tuple[Any, int]]:
    """(gunicorn process, port) serving the test database."""
    with gunicorn(env=test_db_env(**extra), workers=workers, threads=threads) as running:
        yield running


def worker_rss(proc: Any) -> int:
    """The resident memory of the server's one worker process."""
    import psutil

    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 1
    return int(workers[0].memory_info().rss)


@contextmanager
def peak_rss(proc: Any, every: float = 0.05) -> Iterator[list[int]]:
    """Sample the worker's memory while the block runs: the list holds the value before the
    block first, then every sample (max() of it is the peak)."""
    import threading

    samples = [worker_rss(proc)]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(every):
            samples.append(worker_rss(proc))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield samples
    finally:
        done.set()
        watcher.join()
        samples.append(worker_rss(proc))
