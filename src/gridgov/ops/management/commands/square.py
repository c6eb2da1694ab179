from typing import Any

from django.core.management.base import BaseCommand

from gridgov.events import square


class Command(BaseCommand):
    help = (
        "Recount the square map's counters from the events table. The platform keeps them by "
        "itself; run this after events were written around it (a bulk import)."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        counted = square.rebuild()
        self.stdout.write(f"square map: {counted} public events counted")
