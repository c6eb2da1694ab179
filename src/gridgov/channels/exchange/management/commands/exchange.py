"""gridgov exchange: the upper-level exchange (docs/integration.md, "Upper-level exchange").

gridgov exchange status                 as a child: the backlog; as a parent: each child
gridgov exchange push                   send what is due now (the ticker does it anyway)
gridgov exchange node add NODE [--name] register a child; its key is the last line
gridgov exchange node revoke NODE       refuse the child's requests from now on
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gridgov.channels.exchange import queries, sender, services
from gridgov.channels.exchange.models import Node
from gridgov.core.errors import ServiceError


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


class Command(BaseCommand):
    help = "The upper-level exchange: backlog and children's status, registering children."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="the backlog to the parent and each child's sequence")
        sub.add_parser("push", help="send the due batches now")
        node = sub.add_parser("node", help="children of this parent").add_subparsers(
            dest="node_action", required=True
        )
        add = node.add_parser("add", help="register NODE; its key is printed last, once")
        add.add_argument("node")
        add.add_argument("--name", default="")
        revoke = node.add_parser("revoke", help="revoke NODE's key")
        revoke.add_argument("node")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"] if opts["action"] != "node" else f"node_{opts['node_action']}"
        try:
            getattr(self, f"_{action}")(opts)
        except ServiceError as exc:
            raise CommandError(exc.message) from None

    def _status(self, opts: dict[str, Any]) -> None:
        b = queries.backlog()
        w = self.stdout.write
        w(f"parent: {b['parent'] or '(none: nothing is queued)'}  node: {b['node'] or '-'}")
        age = f"{b['oldest_age_s']} s" if b["oldest_age_s"] is not None else "-"
        w(f"undelivered: {b['undelivered']}  oldest: {_when(b['oldest_at'])} ({age})")
        w(f"sequence: {b['acked_seq']} confirmed of {b['last_seq']} numbered")
        w(f"last success: {_when(b['last_success_at'])}")
        w(f"last error: {_when(b['last_error_at'])} {b['last_error'] or '-'}")
        if b["retry_at"]:
            w(f"failures in a row: {b['failures']}, next try {_when(b['retry_at'])}")
        children = queries.nodes()
        if children:
            w("children:")
        for c in children:
            gaps = ", ".join(f"{a}-{z}" if a != z else str(a) for a, z in c["gaps"]) or "none"
            state = "active" if c["active"] else "revoked"
            w(
                f"  {c['node']:<16} {state:<8} items {c['items']}  last seq {c['last_seq']}  "
                f"missing {c['missing']} (gaps: {gaps})  last contact {_when(c['last_contact_at'])}"
            )

    def _push(self, opts: dict[str, Any]) -> None:
        self.stdout.write(f"delivered: {sender.push(timezone.now())}")

    def _node_add(self, opts: dict[str, Any]) -> None:
        node, secret = services.do_add_node(opts["node"], opts["name"])
        self.stdout.write(f"node: {node.code}")
        self.stdout.write(
            "set on the child: GRIDGOV_EXCHANGE_NODE, GRIDGOV_EXCHANGE_SECRET (the key below), "
            "GRIDGOV_EXCHANGE_PARENT_URL (this platform's …/exchange/v1)"
        )
        self.stdout.write("the key is shown once:")
        self.stdout.write(secret)

    def _node_revoke(self, opts: dict[str, Any]) -> None:
        node: Node = services.do_revoke_node(opts["node"])
        self.stdout.write(f"{node.code}: revoked")
