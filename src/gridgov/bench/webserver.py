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


def command(
    port: int, workers: int, threads: int, *options: str, app: str = "gridgov.wsgi"
) -> list[str]:
    """gunicorn's command line as the benchmarks and tests start it (``options`` added)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",  # also with one thread: keep-alive, as with several
        *options,
    ]


@contextmanager
def gunicorn(
    env: dict[str, str] | None = None,
    workers: int = 1,
    threads: int = 4,
    app: str = "gridgov.wsgi",
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A running gunicorn (process, port) serving the WSGI module ``app``, stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        command(
            port,
            workers,
            threads,
            "--no-control-socket",
            "--graceful-timeout",
            "5",  # a browser's keep-alive connection must not hold the worker (and the DB)
            app=app,
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port)
        yield proc, port
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate gunicorn and its workers; kill whatever is still there after 15 s."""
    import psutil

    children = psutil.Process(proc.pid).children(recursive=True)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
    for child in children:
        if child.is_running():
            child.kill()
