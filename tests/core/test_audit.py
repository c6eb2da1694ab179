"""The audit log: same-transaction writes, append-only triggers, and tamper detection."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from gridgov.core import anchors, audit, ticker
from gridgov.core import verify as chain
from gridgov.core.models import AuditHead, AuditLog

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def fill(n: int = 6) -> list[AuditLog]:
    user = UserFactory()
    with transaction.atomic():
        return [
            audit.record(
                f"test.action{i}",
                actor=user,
                object_type="t",
                object_id=str(i),
                detail={"i": i, "note": "测试"},
            )
            for i in range(n)
        ]


def raw(sql: str, params: list[object] | None = None) -> None:
    """What an attacker with database access does: bypass the app, and the triggers."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER IF EXISTS core_auditlog_no_update")
            cur.execute("DROP TRIGGER IF EXISTS core_auditlog_no_delete")
        else:
            cur.execute("ALTER TABLE core_auditlog DISABLE TRIGGER USER")
        cur.execute(sql, params or [])


def kinds() -> set[tuple[int | None, str]]:
    return {(p.seq, p.kind) for p in chain.verify()}


def test_record_outside_a_transaction_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-django wraps each test in a transaction; pretend we are outside it.
    monkeypatch.setattr(audit, "connection", SimpleNamespace(in_atomic_block=False))
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record("x")


def test_audit_row_rolls_back_with_its_change() -> None:
    before = AuditLog.objects.count()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit.record("test.doomed")
        1 / 0  # noqa: B018
    assert AuditLog.objects.count() == before
    assert chain.verify() == []


def test_intact_chain_verifies() -> None:
    rows = fill()
    assert chain.verify() == []
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + 6))
    assert rows[1].prev_hash == rows[0].hash
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "audit chain ok" in out.getvalue()


def test_database_refuses_update_and_delete() -> None:
    row = fill(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).update(action="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).delete()


def test_changed_row_is_named() -> None:
    rows = fill()
    raw("UPDATE core_auditlog SET action = %s WHERE id = %s", ["benign", rows[2].id])
    assert (rows[2].seq, "changed") in kinds()
    err = StringIO()
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit", "verify", stderr=err)
    assert f"seq {rows[2].seq} (row id {rows[2].id}): changed" in err.getvalue()


def test_changed_detail_and_time_are_detected() -> None:
    rows = fill()
    raw("UPDATE core_auditlog SET detail = %s WHERE id = %s", ['{"i": 99}', rows[1].id])
    raw("UPDATE core_auditlog SET source_ip = %s WHERE id = %s", ["10.0.0.1", rows[4].id])
    assert {(rows[1].seq, "changed"), (rows[4].seq, "changed")} <= kinds()


def test_deleted_row_is_named() -> None:
    rows = fill()
    raw("DELETE FROM core_auditlog WHERE id = %s", [rows[3].id])
    found = kinds()
    assert (rows[4].seq, "missing") in found  # the gap is noticed at the next row
    assert (rows[4].seq, "inserted") in found  # which no longer links to its predecessor


def test_inserted_row_is_named() -> None:
    rows = fill()
    last = rows[-1]
    raw(
        "INSERT INTO core_auditlog (seq, at, actor_id, actor_name, post_id, action, object_type,"
        " object_id, source_ip, outcome, detail, prev_hash, hash) VALUES"
        " (%s, %s, NULL, '', NULL, 'forged', '', '', '', 'ok', '{}', %s, %s)",
        [last.seq + 1, last.at, last.hash, "f" * 64],
    )
    assert (last.seq + 1, "changed") in kinds()  # a forger without the key cannot hash it
    assert (None, "head") in kinds()  # and the head does not know it


def test_reordered_rows_are_named() -> None:
    rows = fill()
    a, b = rows[1], rows[2]
    raw("UPDATE core_auditlog SET seq = %s WHERE id = %s", [-1, a.id])
    raw("UPDATE core_auditlog SET seq = %s WHERE id = %s", [a.seq, b.id])
    raw("UPDATE core_auditlog SET seq = %s WHERE id = %s", [b.seq, a.id])
    found = kinds()
    assert (a.seq, "changed") in found and (b.seq, "changed") in found
    assert (b.seq, "reordered") in found


def test_truncated_tail_is_caught_by_head_and_anchor(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "elsewhere" / "anchors.log")
    rows = fill()
    ticker.tick()  # writes the anchor outside the database and the data directory
    last = anchors.read()[-1]
    assert (last.seq, last.hash) == (rows[-1].seq, rows[-1].hash) and last.authentic()
    assert settings.DATA_DIR not in Path(settings.AUDIT_ANCHOR_FILE).parents
    raw("DELETE FROM core_auditlog WHERE seq >= %s", [rows[4].seq])
    assert (None, "head") in kinds()
    # even if the attacker also rewinds the head, the anchor remembers
    rewind_head(rows[3])
    found = kinds()
    assert (None, "head") not in found
    assert (rows[-1].seq, "missing") in found


def rewind_head(row: AuditLog) -> None:
    with connection.cursor() as cur:
        cur.execute("UPDATE core_audithead SET seq = %s, hash = %s", [row.seq, row.hash])


def test_a_trimmed_anchor_file_is_caught_by_a_copy_kept_elsewhere(tmp_path: Path) -> None:
    """Trimming the anchor file needs write access to it; the copy shipped to the log host
    (the ``gridgov.audit.anchor`` log lines) is out of the attacker's reach."""
    rows = fill()
    ticker.tick()
    copy = tmp_path / "loghost.log"
    copy.write_text("".join(f"Nov 27 gridgov: audit anchor {a.line()}\n" for a in anchors.read()))
    raw("DELETE FROM core_auditlog WHERE seq >= %s", [rows[2].seq])
    rewind_head(rows[1])
    anchors.path().write_text("")  # the attacker empties the local anchor file too
    assert chain.verify() == []  # locally nothing shows ...
    found = {(p.seq, p.kind) for p in chain.verify([copy])}
    assert (rows[-1].seq, "missing") in found  # ... the copy does
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--anchors", str(copy), stderr=err)
    assert "anchored row is gone" in err.getvalue()


def test_a_forged_anchor_line_is_named() -> None:
    rows = fill(2)
    ticker.tick()
    with anchors.path().open("a") as f:
        f.write(f"2026-01-01T00:00:00+00:00 {rows[-1].seq + 5} {'a' * 64} {'b' * 64}\n")
    assert (rows[-1].seq + 5, "anchor") in kinds()


def test_the_anchor_logger_carries_every_anchor(caplog: pytest.LogCaptureFixture) -> None:
    rows = fill(1)
    with caplog.at_level("INFO", logger="gridgov.audit.anchor"):
        ticker.tick()
    assert any(f" {rows[-1].seq} {rows[-1].hash} " in r.getMessage() for r in caplog.records)


def test_logins_and_failures_are_audited() -> None:
    user = UserFactory()
    user.set_password("Correct-horse-9")
    user.save()
    c = Client()
    assert not c.login(username=user.username, password="wrong")
    assert c.login(username=user.username, password="Correct-horse-9")
    actions = list(AuditLog.objects.order_by("-seq").values_list("action", "outcome")[:2])
    assert actions == [("auth.login", "ok"), ("auth.login_failed", "denied")]
    failed = AuditLog.objects.filter(action="auth.login_failed").latest("seq")
    assert failed.detail == {"username": user.username}


def test_head_tracks_the_last_row() -> None:
    rows = fill(3)
    head = AuditHead.objects.get(id=1)
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash)


@pytest.mark.parametrize("junk", ["x ² y z", "x 999999999 y z", "garbage", "a b c d e", "x 3 y ²²"])
def test_junk_appended_to_the_anchor_file_neither_stops_anchoring_nor_crashes(junk: str) -> None:
    """Issue 6 probe: one appended line stopped the ticker's anchoring and crashed verify."""
    rows = fill(2)
    ticker.tick()
    with anchors.path().open("a") as f:
        f.write(junk + "\n")
    more = fill(1)
    assert ticker.tick()["audit_anchor"] == 1  # still anchoring past the junk
    assert anchors.read()[-1].seq == more[-1].seq and rows
    found = kinds()
    assert any(kind == "anchor" for _, kind in found)  # and the junk is named
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("audit", "verify", stderr=err)
    assert "forged or altered" in err.getvalue()


def test_verify_warns_when_there_are_no_anchors_at_all() -> None:
    fill(1)
    err = StringIO()
    call_command("audit", "verify", stdout=StringIO(), stderr=err)
    assert "warning: no anchors" in err.getvalue()
