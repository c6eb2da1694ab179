"""The parent's side: check who sends, check the batch whole, store each item once.

A batch is checked whole before anything is written: one malformed item refuses the batch
(400, every problem named) and nothing is stored. A well-formed batch is stored in one
transaction, each item at most once per node (unique on node and item id); items already held
are answered as duplicates, so a replayed batch answers 200 and changes nothing. The answer is
sent only after the commit.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gridgov.core.errors import Forbidden, Invalid

from . import wire
from .items import KINDS
from .models import Node, ReceivedItem

MAX_ITEMS = 500
TIMESTAMP = re.compile(r"[0-9]{1,12}")
REFUSED = "not accepted: unknown or revoked node, stale timestamp or bad signature"


def authenticate(node_code: str, timestamp: str, signature: str, body: bytes) -> Node:
    """The registered, active node whose key signed this body, recently; else Forbidden."""
    # one answer for every refusal: an outsider learns nothing of which nodes exist
    if not TIMESTAMP.fullmatch(timestamp):
        raise Forbidden(REFUSED)
    if abs(time_now() - int(timestamp)) > settings.EXCHANGE_CLOCK_SKEW:
        raise Forbidden(REFUSED)
    short = node_code if 0 < len(node_code) <= 64 else ""
    node = Node.objects.filter(code=short, active=True).first() if short else None
    if node is None or not wire.valid(node.secret, timestamp, body, signature):
        raise Forbidden(REFUSED)
    return node


def time_now() -> int:
    return int(timezone.now().timestamp())


def parse(body: bytes, node: Node) -> list[dict[str, Any]]:
    """The batch's items, checked; Invalid with a message per field otherwise."""
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # also NaN/Infinity, and nesting too deep
        raise Invalid({"body": "not JSON (or NaN, Infinity, or nested too deep)"}) from None
    if not isinstance(doc, dict):
        raise Invalid({"body": "a JSON object with node and items"})
    if doc.get("node", node.code) != node.code:
        raise Invalid({"node": "differs from the X-Gridgov-Node header"})
    found = doc.get("items")
    if not isinstance(found, list) or not 1 <= len(found) <= MAX_ITEMS:
        raise Invalid({"items": f"a list of 1 to {MAX_ITEMS} items"})
    errors: dict[str, str] = {}
    checked = [_item(raw, f"items[{n}]", errors) for n, raw in enumerate(found)]
    ids = [c["id"] for c in checked if c.get("id")]
    if len(ids) != len(set(ids)):
        errors["items"] = "the same id twice in one batch"
    seqs = [c["seq"] for c in checked if isinstance(c.get("seq"), int)]
    if len(seqs) != len(set(seqs)):
        errors["items"] = "the same seq twice in one batch"
    if errors:
        raise Invalid(errors)
    return checked


def _item(raw: Any, where: str, errors: dict[str, str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors[where] = "an object with id, seq, kind, at and data"
        return {}
    item: dict[str, Any] = {}
    try:
        item["id"] = uuid.UUID(str(raw.get("id")))
    except ValueError:
        errors[f"{where}.id"] = "a UUID"
    seq = raw.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**62:
        errors[f"{where}.seq"] = "a positive integer"
    item["seq"] = seq
    if raw.get("kind") not in KINDS:
        errors[f"{where}.kind"] = f"one of {', '.join(KINDS)}"
    item["kind"] = raw.get("kind")
    at = _when(raw.get("at"))
    if at is None or at.tzinfo is None:
        errors[f"{where}.at"] = "an ISO 8601 time with its offset"
    item["at"] = at
    if not isinstance(raw.get("data"), dict):
        errors[f"{where}.data"] = "an object"
    elif not _storable(raw["data"]):
        errors[f"{where}.data"] = "text with no NUL characters or lone surrogates"
    item["data"] = raw.get("data")
    return item


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return parse_datetime(value)
    except ValueError:  # well formed but impossible: 30 February, an offset of +99:00
        return None


def _storable(data: Any) -> bool:
    """What every database stores as JSON: PostgreSQL's jsonb refuses NUL and lone surrogates."""
    text = json.dumps(data, ensure_ascii=False)
    if "\\u0000" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _taken_seqs(node: Node, checked: list[dict[str, Any]]) -> dict[str, str]:
    """Items whose seq the parent already holds under another id: a child numbering twice
    would hide its gaps."""
    by_seq = {c["seq"]: c["id"] for c in checked}
    clash = ReceivedItem.objects.filter(node=node, seq__in=list(by_seq)).values_list(
        "seq", "item_id"
    )
    return {
        f"seq {seq}": "already held under another id" for seq, item in clash if by_seq[seq] != item
    }


def store(node: Node, checked: list[dict[str, Any]]) -> dict[str, Any]:
    """Store the new items and answer for each: stored now, or held before."""
    now = timezone.now()
    with transaction.atomic():
        clashes = _taken_seqs(node, checked)
        if clashes:
            raise Invalid(clashes)
        Node.objects.filter(pk=node.pk).update(last_contact_at=now)
        held = set(
            ReceivedItem.objects.filter(
                node=node, item_id__in=[c["id"] for c in checked]
            ).values_list("item_id", flat=True)
        )
        ReceivedItem.objects.bulk_create(
            [_row(node, c, now) for c in checked if c["id"] not in held],
            ignore_conflicts=True,  # a concurrent replay of the same batch
        )
    results = [
        {"id": str(c["id"]), "seq": c["seq"], "status": _status(c["id"], held)} for c in checked
    ]
    stored = sum(r["status"] == "stored" for r in results)
    return {
        "node": node.code,
        "stored": stored,
        "duplicates": len(results) - stored,
        "results": results,
    }


def _status(item_id: uuid.UUID, held: set[uuid.UUID]) -> str:
    return "duplicate" if item_id in held else "stored"


def _row(node: Node, c: dict[str, Any], now: datetime) -> ReceivedItem:
    return ReceivedItem(
        node=node,
        item_id=c["id"],
        seq=c["seq"],
        kind=c["kind"],
        at=c["at"],
        payload=c["data"],
        received_at=now,
    )
