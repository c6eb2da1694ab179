"""Start the platform's web server on a free loopback port (benchmarks measure against it)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, attempts: int = 200) -> None:
    """Wait for /api/v1/health; ``warm=1`` also makes the worker load its grid locator."""
    for _ in range(attempts):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/api/v1/health?warm=1")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web server did not start")


@contextmanager
def gunicorn(
    env: dict[str, str] | None = None, workers: int = 1, threads: int = 4
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A running gunicorn (process, port), stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "gridgov.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--no-control-socket",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
