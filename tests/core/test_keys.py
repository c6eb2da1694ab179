"""Keys apart from the data: SM4 fields, blind indexes, the audit key, and rotating each."""

from __future__ import annotations

import shutil
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from gridgov.core import audit, crypto, keyring, rotation
from gridgov.core import verify as chain
from gridgov.core.models import AuditLog
from gridgov.events.models import Event

from ..eventbuilder import new_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_keys(settings: Any, tmp_path: Path) -> Path:
    """A copy of the session's keys for this test alone, so rotating them harms no other."""
    directory = tmp_path / "keys"
    shutil.copytree(settings.KEY_DIR, directory)
    settings.KEY_DIR = directory
    settings.KEYS = keyring.KeyRing(directory)
    return directory


def stored(code: str, column: str) -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column} FROM events_event WHERE code = %s", [code])
        return str(cur.fetchone()[0])


def test_sm4_round_trip_binds_the_field_and_refuses_tampering() -> None:
    token = crypto.encrypt("13812345678", "events.event.reporter_phone")
    assert token.startswith("sm4g1$") and "13812345678" not in token
    assert crypto.decrypt(token, "events.event.reporter_phone") == "13812345678"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, "events.event.reporter_name")  # moved to another column
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(flipped, "events.event.reporter_phone")
    assert crypto.encrypt("x", "p") != crypto.encrypt("x", "p")  # fresh nonce each time
    assert crypto.encrypt("", "p") == ""


def test_text_that_looks_like_ciphertext_is_still_encrypted() -> None:
    event = new_event(reporter_name="sm4g1$f1$AAAA")
    assert Event.objects.get(pk=event.pk).reporter_name == "sm4g1$f1$AAAA"


def test_blind_index_is_keyed_and_normalised() -> None:
    from gridgov.core.personal import normalize_phone

    a = crypto.blind_index("phone", normalize_phone("+86 138-1234-5678"))
    assert a == crypto.blind_index("phone", "13812345678")
    assert a != crypto.blind_index("openid", "13812345678")
    assert len(a) == 64 and "13812345678" not in a


def test_field_key_rotation_and_reencryption(own_keys: Path) -> None:
    old = new_event(reporter_phone="13900001111")
    assert crypto.key_id_of(stored(old.code, "reporter_phone")) == "f1"
    new_id = rotation.rotate_field()
    fresh = new_event(reporter_phone="13900002222")
    assert crypto.key_id_of(stored(fresh.code, "reporter_phone")) == new_id
    assert Event.objects.get(pk=old.pk).reporter_phone == "13900001111"  # old key still reads
    assert rotation.reencrypt() >= 1
    assert crypto.key_id_of(stored(old.code, "reporter_phone")) == new_id
    # the old key can now go, and everything still reads
    lines = (own_keys / "field-keys").read_text().splitlines()
    (own_keys / "field-keys").write_text(lines[-1] + "\n")
    assert Event.objects.get(pk=old.pk).reporter_phone == "13900001111"
    assert rotation.reencrypt() == 0


def test_index_key_rotation_recomputes_every_index(own_keys: Path) -> None:
    event = new_event(reporter_phone="13700003333")
    before = Event.objects.get(pk=event.pk).reporter_phone_index
    assert rotation.rotate_index() >= 1
    after = Event.objects.get(pk=event.pk).reporter_phone_index
    assert after != before and after == crypto.blind_index("phone", "13700003333")


def test_audit_key_rotation_keeps_old_rows_verifying(own_keys: Path) -> None:
    with transaction.atomic():
        audit.record("test.before")
    start = rotation.rotate_audit()
    with transaction.atomic():
        after = audit.record("test.after")
    assert after.seq > start and chain.verify() == []
    old_key = keyring.KeyRing(own_keys).audit_key_for(start - 1)
    assert old_key != keyring.KeyRing(own_keys).audit_key_for(after.seq)
    assert AuditLog.objects.get(seq=start).action == "keys.rotate"


def test_secret_rotation_keeps_the_old_secret_as_a_fallback(own_keys: Path, settings: Any) -> None:
    old = settings.KEYS.secret_key()
    rotation.rotate_secret()
    assert settings.KEYS.secret_key() != old
    assert old in settings.KEYS.secret_fallbacks()


def test_keys_show_lists_fingerprints_not_keys(own_keys: Path, settings: Any) -> None:
    out = StringIO()
    call_command("keys", "show", stdout=out)
    text = out.getvalue()
    assert "field f1" in text and "(encrypts)" in text
    assert settings.KEYS.secret_key() not in text
    assert settings.KEYS.index_key().hex() not in text


def test_a_changed_row_rechained_without_the_audit_key_does_not_verify(settings: Any) -> None:
    """The attack of issue 6: change a row and re-chain everything after it. With the key in
    its own directory, what the data directory holds is not the key."""
    with transaction.atomic():
        rows = [audit.record(f"test.{i}") for i in range(4)]
    assert not any(settings.DATA_DIR.rglob("*key*"))  # no key lies in the data directory
    guessed = uuid.uuid4().bytes  # the attacker's best: some other key
    _rechain_from(rows[1], guessed)
    found = {(p.seq, p.kind) for p in chain.verify()}
    assert (rows[1].seq, "changed") in found


def _rechain_from(first: AuditLog, key: bytes) -> None:
    from .test_audit import raw

    prev = first.prev_hash
    for row in AuditLog.objects.filter(seq__gte=first.seq).order_by("seq"):
        if row.pk == first.pk:
            row.action = "benign"
        row.prev_hash = prev
        row.hash = crypto.keyed_hash(row.prev_hash.encode() + b"|" + audit._canonical(row), key)
        raw(
            "UPDATE core_auditlog SET action = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [row.action, row.prev_hash, row.hash, row.pk],
        )
        prev = row.hash
    raw("UPDATE core_audithead SET hash = %s WHERE id = 1", [prev])
