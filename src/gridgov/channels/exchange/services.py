"""The parent registers its children: a key per node, shown once, revoked at will."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from gridgov.core import audit
from gridgov.core.errors import Conflict, Invalid

from . import wire
from .models import Node

CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def do_add_node(code: str, name: str = "") -> tuple[Node, str]:
    """Register ``code`` (or give a revoked node a new key); the node and its new key."""
    if not CODE.match(code):
        raise Invalid({"node": "1 to 32 letters, digits, '.', '_' or '-'"})
    secret = wire.new_secret()
    now = timezone.now()
    with transaction.atomic():
        node = Node.objects.select_for_update().filter(code=code).first()
        if node is not None and node.active:
            raise Conflict(f"node {code} is registered; revoke it first for a new key")
        if node is None:
            node = Node(code=code, created_at=now)
        node.name = name or node.name
        node.secret, node.active, node.revoked_at = secret, True, None
        node.save()
        audit.record("exchange.node_add", obj=node, detail={"node": code})
    return node, secret


def do_revoke_node(code: str) -> Node:
    with transaction.atomic():
        node = Node.objects.select_for_update().filter(code=code, active=True).first()
        if node is None:
            raise Invalid({"node": f"no active node {code}"})
        node.active, node.revoked_at = False, timezone.now()
        node.save(update_fields=["active", "revoked_at"])
        audit.record("exchange.node_revoke", obj=node, detail={"node": code})
    return node
