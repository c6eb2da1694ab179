"""Signed batches for the exchange's tests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.test import Client

from gridgov.channels.exchange import wire

NODE = "130100"


def item(seq: int, kind: str = "event.created", **data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"test:{seq}")),
        "seq": seq,
        "kind": kind,
        "at": "2026-09-03T10:00:00+08:00",
        "data": {"event": {"code": f"SJZ{seq:06d}"}, **data},
    }


def batch(*seqs: int) -> dict[str, Any]:
    return {"node": NODE, "items": [item(s) for s in seqs]}


def send(
    doc: Any,
    secret: str,
    node: str = NODE,
    timestamp: int | None = None,
    raw: bytes | None = None,
) -> Any:
    body = raw if raw is not None else json.dumps(doc).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = wire.headers(node, secret, ts, body)
    headers.pop("Content-Type")
    return Client().post(
        "/exchange/v1/items", data=body, content_type="application/json", headers=headers
    )
