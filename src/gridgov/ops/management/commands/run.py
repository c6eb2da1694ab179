"""Run the platform: web (gunicorn), the ticker and the live stream, as one process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Migrate, then run web + ticker + stream until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("GRIDGOV_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("GRIDGOV_WORKERS", "2"))
        )
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("GRIDGOV_THREADS", "4"))
        )
        parser.add_argument("--demo", action="store_true", help="load the demo city first")

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("calendar", "sync", stdout=self.stdout)
        if opts["demo"]:
            call_command("demo", "--events", "120", stdout=self.stdout)
        children = self._start(opts)
        self.stdout.write(f"gridgov running on http://{opts['bind']}/ (Ctrl-C stops)")
        self._supervise(children)

    def _start(self, opts: dict[str, Any]) -> dict[str, subprocess.Popen[bytes]]:
        py = sys.executable
        commands = {
            "web": [
                py,
                "-m",
                "gunicorn",
                "gridgov.wsgi",
                "--bind",
                opts["bind"],
                "--workers",
                str(opts["workers"]),
                "--threads",
                str(opts["threads"]),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
                # this installation's own control socket: two instances on one host must not
                # share (and on stopping remove) one
                "--control-socket",
                str(Path(settings.DATA_DIR) / "gunicorn.ctl"),
            ],
            "ticker": [py, "-m", "gridgov", "ticker"],
            # live notices for open consoles: idle sockets in one asyncio loop, not web threads
            "stream": [py, "-m", "gridgov", "stream"],
        }
        return {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603

    def _supervise(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exited = None
        while not stopping and exited is None:
            time.sleep(0.5)
            exited = next((n for n, p in children.items() if p.poll() is not None), None)
        for proc in children.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in children.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if exited is not None and not stopping:
            raise SystemExit(f"{exited} exited with {children[exited].returncode}; stopped all")
