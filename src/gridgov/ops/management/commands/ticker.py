from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from gridgov.core import ticker


class Command(BaseCommand):
    help = "Run the clock loop (deadlines, escalation, audit anchors) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=settings.TICKER_INTERVAL)
        parser.add_argument("--once", action="store_true", help="run one tick and exit")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["once"]:
            self.stdout.write(str(ticker.tick()))
            return
        ticker.run_forever(opts["interval"])
