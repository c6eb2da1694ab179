"""Audit retention: rows older than the retention period may leave the database only together
with a signed checkpoint, and only after they were written to an archive file.

``gridgov audit prune --archive-dir DIR`` writes rows ``first..N`` (all older than the period)
to ``DIR/audit-<first>-<N>.jsonl.gz``, checking every hash on the way, then in one transaction
records a checkpoint (N, the hash of row N, the archive's SHA-256, signed with the audit key and
chained to the previous checkpoint), deletes the rows (the database triggers allow deleting
only rows a checkpoint covers) and appends an ``audit.prune`` row. ``gridgov audit verify``
starts the chain after the newest checkpoint and checks every checkpoint's signature;
``--archive FILE`` also checks an archive against its checkpoint, row by row.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import audit
from .crypto import audit_hash
from .models import AuditCheckpoint, AuditHead, AuditLog

# Cybersecurity Law art. 21: network logs are kept for no less than six months. Six calendar
# months are at most 184 days, so that is the floor (180 would fall short for March–August).
MIN_RETENTION_DAYS = 184
ROW_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "post_id",
    "action",
    "object_type",
    "object_id",
    "source_ip",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
)


class RetentionError(RuntimeError):
    pass


def checkpoints() -> list[AuditCheckpoint]:
    return list(AuditCheckpoint.objects.order_by("seq"))


def _signed_fields(cp: AuditCheckpoint) -> bytes:
    fields = {
        "seq": cp.seq,
        "hash": cp.hash,
        "first_seq": cp.first_seq,
        "rows": cp.rows,
        "before": cp.before.isoformat(),
        "archive_name": cp.archive_name,
        "archive_sha256": cp.archive_sha256,
        "at": cp.at.isoformat(),
        "prev_signature": cp.prev_signature,
    }
    return b"checkpoint|" + json.dumps(fields, sort_keys=True).encode()


def sign(cp: AuditCheckpoint) -> str:
    return audit_hash(cp.seq, _signed_fields(cp))


def checkpoint_problems(cps: list[AuditCheckpoint]) -> list[audit.Problem]:
    """Each checkpoint signed, chained to the one before, covering a contiguous range."""
    problems = []
    prev_signature, next_first = audit.GENESIS, 1
    for cp in cps:
        where = f"checkpoint at seq {cp.seq}"
        if sign(cp) != cp.signature:
            problems.append(audit.Problem(cp.seq, None, "checkpoint", f"{where}: bad signature"))
        elif cp.prev_signature != prev_signature:
            problems.append(
                audit.Problem(cp.seq, None, "checkpoint", f"{where}: does not follow the last one")
            )
        if cp.first_seq != next_first or cp.rows != cp.seq - cp.first_seq + 1:
            problems.append(
                audit.Problem(cp.seq, None, "checkpoint", f"{where}: range does not follow on")
            )
        prev_signature, next_first = cp.signature, cp.seq + 1
    return problems


def cutoff(now: datetime | None = None, days: int | None = None) -> datetime:
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if days < MIN_RETENTION_DAYS:
        raise RetentionError(f"audit rows are kept at least {MIN_RETENTION_DAYS} days")
    return (now or timezone.now()) - timedelta(days=days)


@dataclass(frozen=True)
class Plan:
    first: int
    last: int
    before: datetime


def plan(now: datetime | None = None, days: int | None = None) -> Plan | None:
    """The rows that may move out: from the start of the chain up to the last row before the
    first one that is still within the retention period."""
    before = cutoff(now, days)
    cps = checkpoints()
    first = cps[-1].seq + 1 if cps else 1
    recent = AuditLog.objects.filter(seq__gte=first, at__gte=before).order_by("seq").first()
    if recent is not None:
        last = recent.seq - 1
    else:
        last = AuditLog.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    return Plan(first, last, before) if last >= first else None


def row_dict(row: AuditLog) -> dict[str, Any]:
    d = {f: getattr(row, f) for f in ROW_FIELDS}
    d["at"] = row.at.isoformat()
    return d


def row_from(d: dict[str, Any]) -> AuditLog:
    return AuditLog(**{**d, "at": datetime.fromisoformat(d["at"])})


def write_archive(p: Plan, directory: Path) -> tuple[Path, str, str]:
    """The rows of ``p`` in a gzip JSON-lines file, every hash checked on the way; returns the
    path, the file's SHA-256 and the hash of the last row."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"audit-{p.first:012d}-{p.last:012d}.jsonl.gz"
    prev = checkpoints()[-1].hash if p.first > 1 else audit.GENESIS
    expected = p.first
    tmp = path.with_suffix(".part")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        rows = AuditLog.objects.filter(seq__gte=p.first, seq__lte=p.last).order_by("seq")
        for row in rows.iterator(chunk_size=2000):
            if row.seq != expected or row.prev_hash != prev or audit.row_hash(row) != row.hash:
                raise RetentionError(f"the chain is broken at seq {row.seq}: verify it first")
            out.write(json.dumps(row_dict(row), ensure_ascii=False, sort_keys=True) + "\n")
            expected, prev = row.seq + 1, row.hash
    if expected != p.last + 1:
        raise RetentionError(f"rows {expected}..{p.last} are missing: verify the chain first")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)
    return path, _sha256(path), prev


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prune(
    directory: Path, now: datetime | None = None, days: int | None = None
) -> AuditCheckpoint | None:
    """Move the rows older than the retention period out to an archive under a checkpoint."""
    p = plan(now, days)
    if p is None:
        return None
    path, digest, last_hash = write_archive(p, directory)
    with transaction.atomic():
        AuditHead.objects.select_for_update().get_or_create(id=1)  # one pruner at a time
        prev = AuditCheckpoint.objects.order_by("-seq").first()
        if (prev.seq + 1 if prev else 1) != p.first:
            raise RetentionError("another prune ran meanwhile; run again")
        cp = AuditCheckpoint(
            seq=p.last,
            hash=last_hash,
            first_seq=p.first,
            rows=p.last - p.first + 1,
            before=p.before,
            archive_name=path.name,
            archive_sha256=digest,
            at=timezone.now(),
            prev_signature=prev.signature if prev else audit.GENESIS,
        )
        cp.signature = sign(cp)
        cp.save()
        AuditLog.objects.filter(seq__lte=p.last).delete()
        audit.record(
            "audit.prune",
            object_type="core.auditcheckpoint",
            object_id=str(cp.pk),
            detail={"first": p.first, "last": p.last, "archive": path.name, "sha256": digest},
        )
    return cp


def verify_archive(path: Path) -> list[audit.Problem]:
    """An archive file against the checkpoint that names it: same SHA-256, every row's hash,
    contiguous, linked from the previous checkpoint and ending at the checkpoint's hash."""
    digest = _sha256(path)
    cps = checkpoints()
    index = next((i for i, c in enumerate(cps) if c.archive_sha256 == digest), None)
    if index is None:
        return [
            audit.Problem(None, None, "checkpoint", f"{path.name}: no checkpoint has this file")
        ]
    cp = cps[index]
    prev = cps[index - 1].hash if index else audit.GENESIS
    problems, expected = [], cp.first_seq
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = row_from(json.loads(line))
            problems += audit.row_problems(row, expected, prev, 0)
            expected, prev = row.seq + 1, row.hash
    if expected != cp.seq + 1 or prev != cp.hash:
        problems.append(
            audit.Problem(cp.seq, None, "missing", f"{path.name} ends before its checkpoint")
        )
    return problems
