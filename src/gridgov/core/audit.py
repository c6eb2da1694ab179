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

from . import sql
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
    row = build(
        action,
        actor=actor,
        obj=obj,
        post_id=post_id,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        detail=detail,
        source_ip=source_ip,
    )
    return _append([row])[0]


def record_many(rows: list[dict[str, Any]]) -> list[AuditLog]:
    """Append several rows (each given as ``record``'s arguments) with one move of the head and
    one multi-row insert: the ticker's batches, intake's group commits. Call inside
    ``transaction.atomic``."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record_many must run inside the transaction it records")
    if not rows:
        return []
    return _append([build(**r) for r in rows])


def append(built: list[AuditLog]) -> list[AuditLog]:
    """Append rows made by ``build``. Call inside ``transaction.atomic``."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.append must run inside the transaction it records")
    return _append(built) if built else []


def _append(built: list[AuditLog]) -> list[AuditLog]:
    return chain(built, sql.fetch(*head_taken(len(built))))


def head_taken(n: int) -> tuple[str, list[Any]]:
    """The statement that takes ``n`` sequence numbers from the chain's head and answers the
    last with the hash to link to; it can be sent with others (``sql.fetch_each``). Its rows
    go to ``chain``. The UPDATE locks the head row on PostgreSQL, so appends are serialised
    without a read first (on SQLite the transaction holds the write lock already)."""
    update = (
        f"UPDATE {sql.table(AuditHead)} SET seq = seq + %s WHERE id = 1 "  # noqa: S608
        "RETURNING seq, hash"
    )
    return update, [n]


def chain(
    built: list[AuditLog], head: list[tuple[Any, ...]], returning: bool = True
) -> list[AuditLog]:
    """Give rows made by ``build`` the places ``head_taken(len(built))`` took in this
    transaction (its rows: ``head``), write them and move the head's hash. Without
    ``returning`` their ids are not read back, so their statements can be sent together
    (``sql.pipelined``)."""
    last, prev_hash = head[0] if head else _advance_head(len(built))
    for seq, row in enumerate(built, start=int(last) - len(built) + 1):
        row.seq, row.prev_hash = seq, str(prev_hash)
        row.hash = prev_hash = row_hash(row)
    sql.insert_rows(built, returning=returning)
    _set_head_hash(prev_hash)
    return built


def build(action: str, **given: Any) -> AuditLog:
    """An unsaved row from ``record``'s arguments, to ``append`` later (``record_many`` takes
    them as dicts): built before a transaction that must hold its locks briefly (intake's
    group commit), it is given only its place in the chain inside."""
    obj = given.get("obj")
    object_type, object_id = given.get("object_type", ""), given.get("object_id", "")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor = given.get("actor")
    user = actor if getattr(actor, "is_authenticated", False) else None
    source_ip = given.get("source_ip")
    return AuditLog(
        at=timezone.now(),
        actor=user,
        actor_name=getattr(user, "username", "") if user else "",
        post_id=given.get("post_id"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        source_ip=source_ip if source_ip is not None else current_source_ip.get(),
        outcome=given.get("outcome", AuditLog.Outcome.OK),
        detail=json.loads(json.dumps(given.get("detail") or {}, default=str)),
    )


def _set_head_hash(value: str) -> None:
    sql.run(f"UPDATE {sql.table(AuditHead)} SET hash = %s WHERE id = 1", [value])  # noqa: S608


def _advance_head(n: int) -> tuple[int, str]:
    """An empty database: the head row is made once, then ``n`` sequence numbers taken."""
    AuditHead.objects.get_or_create(id=1)
    seq, prev_hash = sql.fetch(*head_taken(n))[0]
    return int(seq), str(prev_hash)


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
