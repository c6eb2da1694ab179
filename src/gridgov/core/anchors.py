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
import hmac
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
        expected = _mac(self.at, self.seq, self.hash) if self.seq >= 1 else ""
        return bool(expected) and hmac.compare_digest(self.mac.encode(), expected.encode())


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
    """The newest authentic anchor's sequence number, from the file's tail (the file only
    grows). Lines anyone else appended are skipped: they cannot stop anchoring."""
    with target.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
        lines = f.read().decode("utf-8", errors="replace").splitlines()
    for line in reversed(lines):
        anchor = parse(line)
        if anchor is not None and anchor.authentic():
            return anchor.seq
    return None


def parse(line: str) -> Anchor | None:
    """An anchor line, or a syslog line carrying one; None for anything else."""
    parts = line.split("audit anchor ", 1)[-1].strip().split(" ")
    if len(parts) != 4 or not (parts[1].isascii() and parts[1].isdigit()):
        return None
    return Anchor(parts[0], int(parts[1]), parts[2], parts[3])


def read(source: Path | None = None) -> list[Anchor]:
    """Anchors from the anchor file (or a copy of it, or of the anchor log lines). A line of the
    anchor file itself that is no anchor comes back as one that fails ``authentic()``."""
    target = source or path()
    if not target.exists():
        return []
    anchors = []
    for n, line in enumerate(target.read_text(encoding="utf-8", errors="replace").splitlines()):
        anchor = parse(line)
        if anchor is not None:
            anchors.append(anchor)
        elif source is None and line.strip():
            anchors.append(Anchor(f"line {n + 1}", 0, "", ""))  # garbage in the anchor file
    return anchors
