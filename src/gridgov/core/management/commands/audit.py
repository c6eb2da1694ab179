from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridgov.core import audit
from gridgov.core.models import AuditLog


class Command(BaseCommand):
    help = "Audit log tools: `audit verify` checks the hash chain and names every bad row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **opts: Any) -> None:
        problems = audit.verify()
        total = AuditLog.objects.count()
        if problems:
            for p in problems:
                self.stderr.write(str(p))
            raise CommandError(f"audit chain BROKEN: {len(problems)} problem(s) in {total} rows")
        self.stdout.write(f"audit chain ok: {total} rows")
