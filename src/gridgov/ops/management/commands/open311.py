"""gridgov open311: API keys of Open311 clients (a city's app, a partner's 311 system).

    gridgov open311 key CLIENT [--rate 1200/h]   issue a key; the key is the last line
    gridgov open311 revoke CLIENT                revoke every live key of CLIENT
    gridgov open311 list                         clients, keys (digest prefix), state, rate

Keys are stored only as their digest: a lost key is revoked and a new one issued. Issuing and
revoking are audited with the operating-system user who ran the command.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gridgov.channels.open311 import queries, services
from gridgov.core.errors import Invalid


class Command(BaseCommand):
    help = "Issue, revoke and list the API keys of Open311 GeoReport v2 clients."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        key = sub.add_parser("key", help="issue a key for CLIENT (printed last, once)")
        key.add_argument("client")
        key.add_argument("--rate", default="", help="COUNT/PERIOD, e.g. 1200/h (default: setting)")
        revoke = sub.add_parser("revoke", help="revoke every live key of CLIENT")
        revoke.add_argument("client")
        sub.add_parser("list", help="list clients and their keys")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except Invalid as exc:
            raise CommandError(exc.message) from None

    def _key(self, opts: dict[str, Any]) -> None:
        key, raw = services.do_issue_key(opts["client"], opts["rate"])
        limit, period = services.limit_of(key)
        self.stdout.write(f"client: {key.client}")
        self.stdout.write(f"rate: {limit} per {period} s")
        self.stdout.write(f"jurisdiction_id: {settings.OPEN311_JURISDICTION}")
        self.stdout.write("the key is shown once; only its digest is kept:")
        self.stdout.write(raw)

    def _revoke(self, opts: dict[str, Any]) -> None:
        n = services.do_revoke(opts["client"])
        if not n:
            raise CommandError(f"no live key for client {opts['client']!r}")
        self.stdout.write(f"{opts['client']}: {n} key(s) revoked")

    def _list(self, opts: dict[str, Any]) -> None:
        for key in queries.api_keys():
            issued = timezone.localtime(key.created_at).strftime("%Y-%m-%d %H:%M")
            state = (
                "revoked " + timezone.localtime(key.revoked_at).strftime("%Y-%m-%d %H:%M")
                if key.revoked_at
                else "live"
            )
            self.stdout.write(
                f"{key.client:<24} {key.digest[:8]}  issued {issued}  {state:<24} "
                f"{key.rate or 'default rate'}"
            )
