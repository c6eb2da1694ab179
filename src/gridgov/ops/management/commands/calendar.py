from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gridgov.core import workcal


class Command(BaseCommand):
    help = "Working calendar: `calendar sync` adds holidays and make-up days from chinese-calendar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["sync"])

    def handle(self, *args: Any, **opts: Any) -> None:
        added = workcal.sync_from_package()
        self.stdout.write(f"working calendar: +{added} days")
