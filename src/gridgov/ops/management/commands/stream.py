"""gridgov stream: live notices to open consoles (server-sent events), in a process of its own."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from gridgov.channels.notify import stream


class Command(BaseCommand):
    help = "Serve live notices to open consoles (server-sent events) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=settings.STREAM_BIND, help="host:port")

    def handle(self, *args: Any, **opts: Any) -> None:
        host, _, port = opts["bind"].rpartition(":")

        async def ready(bound: int) -> None:
            self.stdout.write(f"stream listening on {host}:{bound}")
            self.stdout.flush()

        asyncio.run(stream.serve(host or "127.0.0.1", int(port), ready))
