from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridgov.analytics import rollups


class Command(BaseCommand):
    help = (
        "Recompute the daily statistics (the wall's figures) from the events table: every "
        "finished day, or from --since. The ticker keeps the last two days current by itself."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="first day to recompute (YYYY-MM-DD)")

    def handle(self, *args: Any, **opts: Any) -> None:
        since = None
        if opts["since"]:
            try:
                since = date.fromisoformat(opts["since"])
            except ValueError:
                raise CommandError("--since takes a date: YYYY-MM-DD") from None
        rows = rollups.rebuild(since)
        self.stdout.write(f"daily statistics: {rows} rows written")
