"""The installation's keys, kept in a directory of their own, apart from the data directory.

Whoever can write the data directory (the database file, uploads, backups) must not be able to
read these: with the audit key one could re-chain a doctored audit log, with the field keys read
every reporter's phone. So the key directory is a separate setting (``GRIDGOV_KEY_DIR``) with
its own permissions; in production it must be set, lie outside the data directory and hold every
key already (nothing is created there silently). See docs/operations.md, "Keys".

Files (mode 600, directory mode 700):

- ``secret-key``       Django's SECRET_KEY (sessions, CSRF, signing); ``secret-key-fallbacks``
                       holds retired ones, one per line, so rotation logs nobody out at once.
- ``audit-keys``       ``<from_seq> <hex>`` per line: the audit chain's HMAC-SM3 key for rows
                       from that sequence number on (rotation appends a line).
- ``field-keys``       ``<id> <hex>`` per line: SM4 keys for fields encrypted at rest; the last
                       line encrypts, every line decrypts (rotation appends, re-encryption
                       moves old rows over, then the old line can go).
- ``index-key``        hex: HMAC-SM3 key of blind indexes (searchable keyed hashes of phones).

This module is imported by the settings, so it must not import Django.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "secret-key"  # noqa: S105  (a file name)
SECRET_FALLBACKS = "secret-key-fallbacks"  # noqa: S105
AUDIT = "audit-keys"
FIELD = "field-keys"
INDEX = "index-key"
ALL_FILES = (SECRET, AUDIT, FIELD, INDEX)


class KeyringError(RuntimeError):
    """A key is missing or malformed (start-up refuses to continue)."""


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` with ``text`` (mode 600) unless it exists; the first writer wins."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def append_line(path: Path, line: str) -> None:
    """Append one line durably (rotation); the file keeps mode 600."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as f:
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())


def new_hex(n: int = 16) -> str:
    return secrets.token_bytes(n).hex()


def _initial(name: str, legacy_secret: str | None) -> str:
    if name == SECRET:
        return (legacy_secret or secrets.token_urlsafe(50)) + "\n"
    if name == AUDIT:
        # An installation upgraded from a key kept in the data directory keeps verifying its
        # old rows with that key; `gridgov keys rotate audit` then starts a new one.
        key = legacy_secret.encode().hex() if legacy_secret else new_hex(32)
        return f"1 {key}\n"
    if name == FIELD:
        return f"f1 {new_hex(16)}\n"
    return new_hex(32) + "\n"


def ensure(directory: Path, legacy_secret_file: Path | None = None) -> None:
    """Create the directory and any missing key (development and first install only)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    legacy = None
    if legacy_secret_file is not None and legacy_secret_file.exists():
        legacy = legacy_secret_file.read_text().strip() or None
    for name in ALL_FILES:
        path = directory / name
        if not path.exists():
            _write_new(path, _initial(name, legacy))


def _lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyringError(f"missing key file {path}") from None
    return [line.split() for line in text.splitlines() if line.strip()]


@dataclass
class _Cached:
    mtime: float = -1.0
    value: object = None


@dataclass
class KeyRing:
    """Reads the key directory, re-reading a file when it changed (another process rotated)."""

    directory: Path
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _load(self, name: str, parse: object) -> object:
        path = self.directory / name
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise KeyringError(f"missing key file {path}") from None
        with self._lock:
            cached = self._cache.setdefault(name, _Cached())
            if cached.mtime != mtime:
                cached.value = parse(path)  # type: ignore[operator]
                cached.mtime = mtime
            return cached.value

    def check(self) -> None:
        """Every key present and well-formed (start-up)."""
        self.secret_key()
        self.audit_keys()
        self.field_keys()
        self.index_key()

    def secret_key(self) -> str:
        lines = self._load(SECRET, _lines)
        assert isinstance(lines, list)
        if not lines or len(lines[0][0]) < 32:
            raise KeyringError("the secret key is missing or shorter than 32 characters")
        return str(lines[0][0])

    def secret_fallbacks(self) -> list[str]:
        path = self.directory / SECRET_FALLBACKS
        return [parts[0] for parts in _lines(path)] if path.exists() else []

    def audit_keys(self) -> list[tuple[int, bytes]]:
        """(first sequence number, key), ascending."""
        value = self._load(AUDIT, _parse_audit)
        assert isinstance(value, list)
        return value

    def audit_key_for(self, seq: int) -> bytes:
        key = None
        for start, k in self.audit_keys():
            if start <= seq:
                key = k
        if key is None:
            raise KeyringError(f"no audit key covers sequence number {seq}")
        return key

    def field_keys(self) -> tuple[str, dict[str, bytes]]:
        """(id of the key that encrypts, every key by id)."""
        value = self._load(FIELD, _parse_field)
        assert isinstance(value, tuple)
        return value

    def index_key(self) -> bytes:
        value = self._load(INDEX, _parse_index)
        assert isinstance(value, bytes)
        return value


def _hex(text: str, path: Path, n_min: int) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyringError(f"{path}: key is not hexadecimal") from None
    if len(key) < n_min:
        raise KeyringError(f"{path}: key shorter than {n_min} bytes")
    return key


def _parse_audit(path: Path) -> list[tuple[int, bytes]]:
    keys = []
    for parts in _lines(path):
        if len(parts) != 2 or not parts[0].isdigit():
            raise KeyringError(f"{path}: each line is '<from_seq> <hex key>'")
        keys.append((int(parts[0]), _hex(parts[1], path, 16)))
    if not keys or keys[0][0] != 1:
        raise KeyringError(f"{path}: the first key must start at sequence number 1")
    if [k[0] for k in keys] != sorted({k[0] for k in keys}):
        raise KeyringError(f"{path}: sequence numbers must increase")
    return keys


def _parse_field(path: Path) -> tuple[str, dict[str, bytes]]:
    keys: dict[str, bytes] = {}
    current = ""
    for parts in _lines(path):
        if len(parts) != 2 or not parts[0].isalnum() or parts[0] in keys:
            raise KeyringError(f"{path}: each line is '<unique id> <hex key>'")
        key = _hex(parts[1], path, 16)
        if len(key) != 16:
            raise KeyringError(f"{path}: SM4 keys are 16 bytes (32 hex digits)")
        keys[parts[0]] = key
        current = parts[0]
    if not keys:
        raise KeyringError(f"{path}: no field key")
    return current, keys


def _parse_index(path: Path) -> bytes:
    lines = _lines(path)
    if len(lines) != 1 or len(lines[0]) != 1:
        raise KeyringError(f"{path}: one hex key")
    return _hex(lines[0][0], path, 16)
