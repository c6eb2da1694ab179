"""Audit retention: old rows leave only into an archive, under a signed checkpoint."""

from __future__ import annotations

import gzip
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from gridgov.core import retention
from gridgov.core import verify as chain
from gridgov.core.models import AuditCheckpoint, AuditLog

from .test_audit import fill, raw

pytestmark = pytest.mark.django_db

LATER = timedelta(days=200)


def prune(tmp_path: Path) -> AuditCheckpoint:
    cp = retention.prune(tmp_path / "archive", now=timezone.now() + LATER)
    assert cp is not None
    return cp


def test_rows_move_out_under_a_signed_checkpoint_and_the_chain_still_verifies(
    tmp_path: Path,
) -> None:
    rows = fill(3)
    cp = prune(tmp_path)
    assert cp.seq >= rows[-1].seq and cp.first_seq == 1
    assert not AuditLog.objects.filter(seq__lte=cp.seq).exists()
    last = AuditLog.objects.latest("seq")
    assert last.action == "audit.prune" and last.prev_hash == cp.hash
    assert chain.verify() == []
    archive = tmp_path / "archive" / cp.archive_name
    assert retention.verify_archive(archive) == []
    out = StringIO()
    call_command("audit", "verify", "--archive", str(archive), stdout=out)
    assert "audit chain ok" in out.getvalue()
    # a second run moves out only what is new since
    fill(2)
    second = prune(tmp_path)
    assert second.first_seq == cp.seq + 1 and second.prev_signature == cp.signature
    assert chain.verify() == []


def test_recent_rows_stay() -> None:
    fill(2)
    assert retention.plan() is None  # everything is younger than the retention period


def test_a_changed_archive_is_caught(tmp_path: Path) -> None:
    fill(3)
    cp = prune(tmp_path)
    archive = tmp_path / "archive" / cp.archive_name
    lines = gzip.decompress(archive.read_bytes()).decode().splitlines()
    lines[1] = lines[1].replace('"action": "', '"action": "x', 1)
    archive.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert retention.verify_archive(archive)  # the file is no longer the one checkpointed
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--archive", str(archive), stderr=err)


def test_rows_not_under_a_checkpoint_cannot_be_deleted(tmp_path: Path) -> None:
    fill(2)
    cp = prune(tmp_path)
    newer = fill(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=newer.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=cp.pk).update(seq=cp.seq + 1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=cp.pk).delete()


def test_a_forged_checkpoint_is_named(tmp_path: Path) -> None:
    rows = fill(4)
    with connection.cursor() as cur:  # a database writer without the key writes a checkpoint
        cur.execute(
            "INSERT INTO core_auditcheckpoint (seq, hash, first_seq, rows, before, archive_name,"
            " archive_sha256, at, prev_signature, signature) VALUES"
            " (%s, %s, 1, %s, %s, 'x', 'x', %s, %s, %s)",
            [
                rows[2].seq,
                rows[2].hash,
                rows[2].seq,
                timezone.now(),
                timezone.now(),
                "0" * 64,
                "f" * 64,
            ],
        )
    raw("DELETE FROM core_auditlog WHERE seq <= %s", [rows[2].seq])
    assert any(p.kind == "checkpoint" for p in chain.verify())


def test_retention_below_six_months_is_refused(tmp_path: Path) -> None:
    with pytest.raises(retention.RetentionError):
        retention.prune(tmp_path, days=180)
    with pytest.raises(CommandError):
        call_command("audit", "prune", "--archive-dir", str(tmp_path), "--days", "30")


def test_prune_command_reports_what_it_moved(tmp_path: Path) -> None:
    import time_machine

    fill(2)
    with time_machine.travel(timezone.now() + LATER):
        out = StringIO()
        call_command("audit", "prune", "--archive-dir", str(tmp_path), stdout=out)
    assert "moved out seq 1.." in out.getvalue()
    assert chain.verify() == []
