"""The wire format's signature, shared by both ends.

A request carries ``X-Gridgov-Node`` (the child's name at the parent), ``X-Gridgov-Timestamp``
(Unix seconds) and ``X-Gridgov-Signature: sha256=<hex>``, the HMAC-SHA256 under the node's key
of ``<timestamp>.<body>``: the body cannot be changed, nor an old request replayed after the
allowed clock skew (a replay inside it stores nothing new: items are idempotent).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NODE, TIMESTAMP, SIGNATURE = "X-Gridgov-Node", "X-Gridgov-Timestamp", "X-Gridgov-Signature"
PREFIX = "sha256="


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def headers(node: str, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    ts = str(timestamp)
    return {
        "Content-Type": "application/json",
        NODE: node,
        TIMESTAMP: ts,
        SIGNATURE: signature(secret, ts, body),
    }


def valid(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), given)


def new_secret() -> str:
    return secrets.token_urlsafe(32)
