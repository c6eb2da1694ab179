"""Verify the audit chain: rows, the newest signed checkpoint, and the anchors kept outside the
database (`gridgov audit verify`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from . import anchors, retention
from .audit import GENESIS, Problem, row_problems
from .models import AuditCheckpoint, AuditHead, AuditLog


def _rows() -> Iterator[AuditLog]:
    return AuditLog.objects.order_by("seq", "id").iterator(chunk_size=2000)


def verify(anchor_copies: Iterable[Path] = ()) -> list[Problem]:
    """Walk the chain in ``seq`` order and report every row that breaks it.

    A row whose own hash does not match its content was changed; a gap in ``seq`` means rows
    were deleted; a row whose ``prev_hash`` links to something other than its predecessor was
    inserted or moved; ``id`` order disagreeing with ``seq`` order means rows were reordered.
    The chain starts after the newest signed checkpoint (rows moved out after the retention
    period) and is compared with every anchor kept outside the database.
    """
    checkpoints = retention.checkpoints()
    problems = retention.checkpoint_problems(checkpoints)
    start = checkpoints[-1].seq + 1 if checkpoints else 1
    expected_seq, prev_hash = start, checkpoints[-1].hash if checkpoints else GENESIS
    prev_id = 0
    for row in _rows():
        if row.seq < start:
            problems.append(
                Problem(
                    row.seq, row.id, "inserted", f"lies behind the checkpoint at seq {start - 1}"
                )
            )
            continue
        problems += row_problems(row, expected_seq, prev_hash, prev_id)
        expected_seq, prev_hash, prev_id = row.seq + 1, row.hash, row.id
    problems += _anchor_problems(expected_seq - 1, checkpoints, anchor_copies)
    head = AuditHead.objects.filter(id=1).first()
    if head and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        problems.append(
            Problem(
                None,
                None,
                "head",
                f"chain ends at seq {expected_seq - 1} but the head records seq {head.seq}: "
                "rows at the end were deleted or the head was altered",
            )
        )
    return problems


def _anchor_problems(
    last_seq: int, checkpoints: list[AuditCheckpoint], copies: Iterable[Path]
) -> list[Problem]:
    """Compare the chain with the head copies kept outside the database (core/anchors.py)."""
    cut = {c.seq: c.hash for c in checkpoints}
    start = checkpoints[-1].seq + 1 if checkpoints else 1
    problems = []
    for anchor in [a for source in (None, *copies) for a in anchors.read(source)]:
        if not anchor.authentic():
            problems.append(
                Problem(anchor.seq, None, "anchor", "anchor line was forged or altered")
            )
        elif anchor.seq < start:
            if anchor.seq in cut and cut[anchor.seq] != anchor.hash:
                problems.append(
                    Problem(anchor.seq, None, "changed", "checkpoint differs from its anchor")
                )
        else:
            problems += _against_row(anchor.seq, anchor.hash, last_seq)
    return problems


def _against_row(seq: int, digest: str, last_seq: int) -> list[Problem]:
    row = AuditLog.objects.filter(seq=seq).only("hash").first()
    if row is None:
        message = f"anchored row is gone (chain now ends at seq {last_seq})"
        return [Problem(seq, None, "missing", message)]
    if row.hash != digest:
        return [Problem(seq, row.id, "changed", "hash differs from its anchor")]
    return []
