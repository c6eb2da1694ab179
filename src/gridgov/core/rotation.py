"""Key rotation (``gridgov keys rotate …``): each key has its own way to change without losing
what it protects. docs/operations.md ("Keys") gives the order of steps.

- secret: a new SECRET_KEY; the old one becomes a fallback, so sessions survive until expiry.
- audit: rows from the next sequence number on are chained under a new key; older rows keep
  verifying with theirs. Appended while holding the chain's head lock, so no row is written
  under the old key after the switch.
- field: new values are encrypted under a new SM4 key; ``reencrypt`` moves old values over,
  after which the old key's line may be deleted.
- index: every blind index is recomputed under a new key (stop the platform meanwhile).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction

from . import audit, keyring
from .crypto import blind_index, key_id_of
from .fields import EncryptedTextField
from .models import AuditHead

# (model label, index field, source field, kind, normaliser): registered by the apps.
BLIND_INDEXES: list[tuple[str, str, str, str, Callable[[str], str]]] = []


def fingerprint(key: bytes | str) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()[:12]


def key_dir() -> Path:
    return Path(settings.KEY_DIR)


def rotate_secret() -> str:
    directory = key_dir()
    old = settings.KEYS.secret_key()
    keyring.append_line(directory / keyring.SECRET_FALLBACKS, old)
    _replace(directory / keyring.SECRET, secrets.token_urlsafe(50))
    return fingerprint(settings.KEYS.secret_key())


def rotate_audit(actor: object = None) -> int:
    """A new audit key from the next sequence number on; returns that number."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        start = head.seq + 1
        keyring.append_line(key_dir() / keyring.AUDIT, f"{start} {keyring.new_hex(32)}")
        audit.record("keys.rotate", detail={"key": "audit", "from_seq": start})
    return start


def rotate_field() -> str:
    ids = settings.KEYS.field_keys()[1]
    n = 1 + max((int(i[1:]) for i in ids if i[1:].isdigit()), default=0)
    new_id = f"f{n}"
    keyring.append_line(key_dir() / keyring.FIELD, f"{new_id} {keyring.new_hex(16)}")
    with transaction.atomic():
        audit.record("keys.rotate", detail={"key": "field", "id": new_id})
    return new_id


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    for model in apps.get_models():
        names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def reencrypt() -> int:
    """Re-encrypt every value not under the current field key; returns rows rewritten. Each
    row commits on its own, so an interrupted run simply runs again."""
    current = settings.KEYS.field_keys()[0]
    done = 0
    for model, names in encrypted_fields():
        for pk in _stale_rows(model, names, current):
            obj = model._default_manager.only(*names).get(pk=pk)
            values = {n: getattr(obj, n) for n in names}
            model._default_manager.filter(pk=pk).update(**values)  # encrypts under `current`
            done += 1
    return done


def _stale_rows(model: type[models.Model], names: list[str], current: str) -> Iterator[object]:
    """Primary keys of rows holding a value under another key, read as stored."""
    pk = model._meta.pk
    assert pk is not None
    columns = ", ".join(str(model._meta.get_field(n).column) for n in names)  # type: ignore[union-attr]
    with connection.cursor() as cur:
        cur.execute(f"SELECT {pk.column}, {columns} FROM {model._meta.db_table}")  # noqa: S608
        rows = cur.fetchall()
    for row in rows:
        if any(v and key_id_of(v) != current for v in row[1:]):
            yield pk.to_python(row[0])


def rotate_index() -> int:
    """A new blind-index key and every index recomputed; returns rows updated."""
    _replace(key_dir() / keyring.INDEX, keyring.new_hex(32))
    done = 0
    with transaction.atomic():
        for label, index_field, source, kind, normalise in BLIND_INDEXES:
            model = apps.get_model(label)
            for obj in model._default_manager.only(source).iterator(chunk_size=500):
                value = blind_index(kind, normalise(getattr(obj, source)))
                model._default_manager.filter(pk=obj.pk).update(**{index_field: value})
                done += 1
        audit.record("keys.rotate", detail={"key": "index", "rows": done})
    return done


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
