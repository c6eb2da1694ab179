"""gridgov department: connect a department's own system.

gridgov department connect UNIT URL   its work goes to URL (signed); prints the signing
                                      secret, then the API token last, each once
gridgov department disconnect UNIT    no more deliveries; the token stops working
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridgov.channels.notify import services
from gridgov.core.errors import Invalid


class Command(BaseCommand):
    help = "Connect or disconnect a department's own system (webhook and API token)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        connect = sub.add_parser("connect", help="send UNIT's work to URL; print secret and token")
        connect.add_argument("unit", help="the department's code, e.g. D1301-01")
        connect.add_argument("url")
        off = sub.add_parser("disconnect", help="stop deliveries and revoke the token")
        off.add_argument("unit")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            if opts["action"] == "connect":
                hook, secret, token = services.do_connect(opts["unit"], opts["url"])
                self.stdout.write(f"department: {hook.unit.name} ({hook.unit.code})")
                self.stdout.write(f"account: {hook.account.username}")
                self.stdout.write(f"webhook: {hook.url}")
                self.stdout.write(f"signing secret (shown once): {secret}")
                self.stdout.write("API token (shown once):")
                self.stdout.write(token)
            elif not services.do_disconnect(opts["unit"]):
                raise CommandError(f"{opts['unit']} is not connected")
            else:
                self.stdout.write(f"{opts['unit']} disconnected")
        except Invalid as exc:
            raise CommandError(str(exc)) from None
