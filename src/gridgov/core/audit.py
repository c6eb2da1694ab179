"""Append to the hash-chained audit log.

``record`` must run inside the transaction that makes the change it records, so the change and
its audit row commit or vanish together. ``core.verify`` walks the chain and names every bad row.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .crypto import audit_hash
from .models import AuditHead, AuditLog

# Set per request by core.middleware so services need not pass the address around.
current_source_ip: ContextVar[str] = ContextVar("current_source_ip", default="")

GENESIS = "0" * 64


def _canonical(row: AuditLog) -> bytes:
    fields = {
        "seq": row.seq,
        "at": row.at.isoformat(),
        "actor": row.actor_id,
        "actor_name": row.actor_name,
        "post": row.post_id,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "source_ip": row.source_ip,
        "outcome": row.outcome,
        "detail": row.detail,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode()


def row_hash(row: AuditLog) -> str:
    return audit_hash(row.seq, row.prev_hash.encode() + b"|" + _canonical(row))


def record(
    action: str,
    *,
    actor: Any = None,
    post_id: int | None = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    outcome: str = AuditLog.Outcome.OK,
    detail: dict[str, Any] | None = None,
    source_ip: str | None = None,
) -> AuditLog:
    """Append one row to the chain. Call inside ``transaction.atomic``."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction it records")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
    user = actor if getattr(actor, "is_authenticated", False) else None
    row = AuditLog(
        seq=head.seq + 1,
        at=timezone.now(),
        actor=user,
        actor_name=getattr(user, "username", "") if user else "",
        post_id=post_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        source_ip=source_ip if source_ip is not None else current_source_ip.get(),
        outcome=outcome,
        detail=json.loads(json.dumps(detail or {}, default=str)),
        prev_hash=head.hash,
    )
    row.hash = row_hash(row)
    row.save()
    head.seq, head.hash = row.seq, row.hash
    head.save(update_fields=["seq", "hash"])
    return row


def record_now(action: str, **kwargs: Any) -> AuditLog:
    """Record in a transaction of its own (for events with no other change, e.g. logins)."""
    with transaction.atomic():
        return record(action, **kwargs)


@dataclass(frozen=True)
class Problem:
    seq: int | None
    row_id: int | None
    kind: str  # changed | missing | inserted | reordered | head | anchor | checkpoint
    message: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "chain"
        if self.row_id is not None:
            where += f" (row id {self.row_id})"
        return f"{where}: {self.kind}: {self.message}"


def row_problems(row: AuditLog, expected_seq: int, prev_hash: str, prev_id: int) -> list[Problem]:
    problems = []
    if row.seq != expected_seq:
        kind = "missing" if row.seq > expected_seq else "inserted"
        problems.append(
            Problem(row.seq, row.id, kind, f"expected seq {expected_seq}, found {row.seq}")
        )
    if row_hash(row) != row.hash:
        problems.append(Problem(row.seq, row.id, "changed", "content does not match its hash"))
    elif row.prev_hash != prev_hash:
        problems.append(Problem(row.seq, row.id, "inserted", "does not link to the row before it"))
    if row.id is not None and row.id < prev_id:
        problems.append(Problem(row.seq, row.id, "reordered", "stored out of sequence order"))
    return problems
