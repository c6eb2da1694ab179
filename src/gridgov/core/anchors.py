"""Anchors: copies of the audit chain's head kept where the database's writer cannot rewrite them.

Whoever can write the database can delete the newest audit rows and rewind the head row; the
chain then looks whole. An anchor — (sequence number, row hash) written every tick to a place
that writer cannot change — shows what the chain had reached. Each anchor line carries an
HMAC-SM3 under the audit key, so lines cannot be forged or altered without that key; trimming
the newest lines can only be stopped by where the file lives:

- ``GRIDGOV_AUDIT_ANCHOR_FILE``: an append-only file. Put it outside the data directory, on a
  file system where the platform's user can only append (``chattr +a`` by root), or on a mount
  shipped to another host. Production refuses an anchor file inside the data directory.
- every anchor is also logged on the ``gridgov.audit.anchor`` logger: route it to a remote
  syslog host, and ``gridgov audit verify --anchors FILE`` checks a copy brought back from there.

docs/operations.md ("Audit log: keys, anchors, retention") says what each choice protects against.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from .crypto import audit_hash
from .models import AuditHead

log = logging.getLogger("gridgov.audit.anchor")


@dataclass(frozen=True)
class Anchor:
    at: str
    seq: int
    hash: str
    mac: str

    def line(self) -> str:
        return f"{self.at} {self.seq} {self.hash} {self.mac}"

    def authentic(self) -> bool:
        return self.mac == _mac(self.at, self.seq, self.hash)


def _mac(at: str, seq: int, digest: str) -> str:
    return audit_hash(seq, f"anchor|{at}|{seq}|{digest}".encode())


def path() -> Path:
    return Path(settings.AUDIT_ANCHOR_FILE or Path(settings.DATA_DIR) / "audit-anchors.log")


def write(now: datetime) -> int:
    """Append the head if it moved since the last anchor; 1 when an anchor was written."""
    head = AuditHead.objects.filter(id=1).first()
    if head is None or head.seq == 0:
        return 0
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    at = now.isoformat()
    anchor = Anchor(at, head.seq, head.hash, _mac(at, head.seq, head.hash))
    # O_APPEND only: never truncate or rewrite, so an append-only (chattr +a) file works.
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        last = _last_seq(target)
        if last is not None and last >= head.seq:
            return 0
        f.write(anchor.line() + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.info("audit anchor %s", anchor.line())
    return 1


def _last_seq(target: Path) -> int | None:
    anchors = read(target)
    return anchors[-1].seq if anchors else None


def read(source: Path | None = None) -> list[Anchor]:
    """Anchors from the anchor file (or a copy of it, or of the anchor log lines)."""
    target = source or path()
    if not target.exists():
        return []
    anchors = []
    for line in target.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("audit anchor ", 1)[-1].split(" ")
        if len(parts) == 4 and parts[1].isdigit():
            anchors.append(Anchor(parts[0], int(parts[1]), parts[2], parts[3]))
    return anchors
