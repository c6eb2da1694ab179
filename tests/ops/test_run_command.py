"""`gridgov run` starts web, ticker and the live stream, and stops them all on SIGTERM; two
installations on one host keep their own gunicorn control sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stream_health(port: int, deadline: float) -> bytes:
    """The stream's own health answer, once it listens (it starts beside the web server)."""
    while True:
        try:
            return bytes(
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            )
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_run_starts_web_ticker_and_stream_and_serves(tmp_path: Path) -> None:
    port, stream_port = free_port(), free_port()
    env = {
        **os.environ,
        "GRIDGOV_DB": "sqlite",
        "GRIDGOV_DATA_DIR": str(tmp_path),
        "GRIDGOV_TICKER_INTERVAL": "0.5",
        "GRIDGOV_STREAM_BIND": f"127.0.0.1:{stream_port}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridgov", "run", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        body = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                raw = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                body = json.loads(raw.read())
                if body["ticker_beat"]:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert body is not None and body["status"] == "ok"
        assert body["ticker_beat"], "the ticker should have beaten"
        names = sorted(" ".join(c.cmdline()[2:4]) for c in psutil.Process(proc.pid).children())
        assert names == ["gridgov stream", "gridgov ticker", "gunicorn gridgov.wsgi"]
        assert _stream_health(stream_port, time.monotonic() + 30).startswith(b"ok")
        assert (tmp_path / "gunicorn.ctl").exists()  # this installation's own control socket
        assert (tmp_path / "gridgov.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
