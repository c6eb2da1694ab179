"""A second gridgov instance, the parent: its own SQLite database in a scratch directory,
served by gunicorn on a fixed loopback port, killed and restarted at will."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from gridgov.bench.events import gridgov
from gridgov.bench.webserver import free_port, wait_until_up


class Parent:
    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "parent.sqlite3"
        self.log = tmp / "parent.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "GRIDGOV_DB": "sqlite",
            "GRIDGOV_SQLITE_PATH": str(self.db),
            "GRIDGOV_DATA_DIR": str(tmp / "data"),
            "GRIDGOV_KEY_DIR": str(tmp / "keys"),
            "GRIDGOV_DEPLOYMENT": "development",
        }
        for name in ("GRIDGOV_EXCHANGE_PARENT_URL", "GRIDGOV_EXCHANGE_SECRET"):
            self.env.pop(name, None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/exchange/v1"

    def command(self, *args: str) -> str:
        return gridgov(self.env, *args)

    def migrate(self) -> None:
        self.command("migrate", "-v0")

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "gridgov.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--threads",
                    "2",
                    "--no-control-socket",
                ],
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: killed whole, workers too
            )
        wait_until_up(self.port)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no chance to finish a request."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            self.proc = None

    def items(self) -> list[tuple[uuid.UUID, int, str]]:
        """Every stored item (id, seq, kind), read straight from the parent's database."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT i.item_id, i.seq, i.kind FROM exchange_receiveditem i"
                " JOIN exchange_node n ON n.id = i.node_id ORDER BY i.seq"
            ).fetchall()
        return [(uuid.UUID(r[0]), int(r[1]), str(r[2])) for r in rows]
