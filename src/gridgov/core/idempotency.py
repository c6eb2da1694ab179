"""Idempotent creates: every create carries a client key, and a replay answers what the first
request was answered, byte for byte, even after the object moved on.

    found = idempotency.lookup(owner, "event.report", key, fingerprint)
    if found: return found                      # the first answer (or Conflict on another body)
    with transaction.atomic():
        obj = ...create...
        answer = idempotency.remember(owner, "event.report", key, fingerprint, 201, body, obj.pk)

``remember`` runs in the creating transaction, so the object and its answer commit together; two
racing first requests collide on the unique key, the loser's transaction rolls back and it
answers from the winner's record (``lookup`` again after IntegrityError).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from . import sql
from .errors import Conflict, Invalid
from .models import IdempotencyRecord

KEY_MIN, KEY_MAX = 8, 80
# read on every create (sql.py: a fixed statement, not compiled per call)
_LOOKUP = ("request_hash", "status", "response", "object_id")
_WHERE = "owner = %s AND operation = %s AND key = %s"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    object_id: str
    replayed: bool


def check_key(key: str, field: str = "client_id") -> str:
    key = (key or "").strip()
    if not KEY_MIN <= len(key) <= KEY_MAX or not key.isprintable() or not key.isascii():
        raise Invalid({field: f"{KEY_MIN} to {KEY_MAX} printable ASCII characters (a UUID)"})
    return key


def fingerprint(payload: Any) -> str:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)
    return hashlib.sha256(body.encode()).hexdigest()


def owner_of(user: Any) -> str:
    """Keys of a signed-in caller belong to that account."""
    return f"user:{user.pk}"


def lookup(
    owner: str, operation: str, key: str, request_hash: str, field: str = "client_id"
) -> Answer | None:
    found = sql.select(IdempotencyRecord, _LOOKUP, _WHERE, [owner, operation, key])
    if not found:
        return None
    row = found[0]
    if row.request_hash != request_hash:
        raise Conflict("this key was used for a different request", field)
    return Answer(row.status, json.loads(row.response), row.object_id, replayed=True)


def used(owner: str, operation: str, key: str) -> bool:
    """Whether ``owner`` already applied ``operation`` under ``key`` (whatever the request)."""
    return IdempotencyRecord.objects.filter(owner=owner, operation=operation, key=key).exists()


def created_by(owner: str, operation: str, object_ids: list[str]) -> set[str]:
    """The ids among ``object_ids`` that ``owner`` created with ``operation`` (a door with no
    account proves whose uploads are whose this way)."""
    found = IdempotencyRecord.objects.filter(
        owner=owner, operation=operation, object_id__in=object_ids
    )
    return set(found.values_list("object_id", flat=True))


def remember(
    owner: str,
    operation: str,
    key: str,
    request_hash: str,
    status: int,
    body: dict[str, Any],
    object_id: Any,
) -> Answer:
    """Store the answer in the creating transaction; returns it as a replay would see it."""
    return remember_many([Kept(owner, operation, key, request_hash, status, body, object_id)])[0]


@dataclass(frozen=True)
class Kept:
    """One answer to keep (``remember``'s arguments)."""

    owner: str
    operation: str
    key: str
    request_hash: str
    status: int
    body: dict[str, Any]
    object_id: Any


def remember_many(kept: list[Kept]) -> list[Answer]:
    """``remember`` for several answers in one statement (intake's group commits); a key
    taken already fails the whole statement with IntegrityError."""
    if not connection.in_atomic_block:
        raise RuntimeError("idempotency.remember must run inside the creating transaction")
    now = timezone.now()
    records, answers = [], []
    for k in kept:
        text = json.dumps(k.body, ensure_ascii=False, cls=DjangoJSONEncoder)
        records.append(
            IdempotencyRecord(
                owner=k.owner,
                operation=k.operation,
                key=k.key,
                request_hash=k.request_hash,
                status=k.status,
                response=text,
                object_id=str(k.object_id),
                created_at=now,
            )
        )
        answers.append(Answer(k.status, json.loads(text), str(k.object_id), replayed=False))
    # a racing first request collides on the unique key; the records' ids are not needed
    sql.insert_rows(records, returning=False)
    return answers
