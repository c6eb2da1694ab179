"""Django's SQLite backend with one writer queue for all processes (ADR 0017).

SQLite admits one writer at a time. When it is busy, a waiting connection sleeps in SQLite's
busy handler in steps of 1, 2, 5, 10 … 100 ms and looks again, so writers racing for the lock
sleep far longer than it is held (about a millisecond): under a burst that sleeping was
intake's whole p99 tail and, with one thread per process, its throughput limit too.

Here a writer queues before ``BEGIN IMMEDIATE``, in two steps:
- the threads of one process on a lock of their own, woken the moment the holder is done;
- the one thread per process that got it, on an exclusive ``flock`` of ``<database>.writer``,
  looked at every 0.2–1 ms. The kernel drops it when its process dies, so a ``kill -9`` frees
  it at once.
The wait is bounded by the connection's ``timeout`` (SQLite's own busy timeout) and fails the
same way ("database is locked"). Nothing else changes: the same transactions, WAL with
``synchronous=FULL``, an answer only after COMMIT. Writers that do not queue (another program,
an autocommit statement) still meet SQLite's own lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_guard = threading.Lock()
_writers: dict[tuple[str, int], threading.Lock] = {}  # per process: a fork copies locks held
_files: dict[tuple[str, int], int] = {}  # (database, pid) -> the lock file's descriptor
POLL_FIRST, POLL_MAX = 0.0002, 0.001


def writer_lock(name: str) -> threading.Lock:
    """This process's lock for the database file ``name``."""
    with _guard:
        return _writers.setdefault((name, os.getpid()), threading.Lock())


def _lock_file(name: str) -> int:
    # per process: a descriptor inherited over fork would share the lock with the parent
    key = (name, os.getpid())
    with _guard:
        if key not in _files:
            _files[key] = os.open(f"{name}.writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return _files[key]


def _flock(fd: int, deadline: float) -> bool:
    wait = POLL_FIRST
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(wait)
            wait = min(wait * 2, POLL_MAX)


class DatabaseWrapper(base.DatabaseWrapper):
    _held: threading.Lock | None = None
    _held_fd: int | None = None
    _held_pid: int = 0

    def _start_transaction_under_autocommit(self) -> None:
        if self.is_in_memory_db():
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        name = str(self.settings_dict["NAME"])
        # as long as SQLite's own busy timeout: a writer stuck longer fails the same way
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        deadline = time.monotonic() + timeout
        lock = writer_lock(name)
        if not lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (this process's writer queue)")
        self._held, self._held_pid = lock, os.getpid()
        try:
            fd = _lock_file(name)
            if not _flock(fd, deadline):
                raise OperationalError("database is locked (the writer queue of all processes)")
            self._held_fd = fd
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release()
            raise

    def _commit(self) -> None:
        super()._commit()  # type: ignore[misc]
        self._release()  # a failed COMMIT keeps the lock until the rollback that follows

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._release()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._release()  # closing a connection ends its transaction

    def _release(self) -> None:
        fd, self._held_fd = self._held_fd, None
        held, self._held = self._held, None
        try:
            # a connection carried over a fork must not unlock its parent's live lock
            if fd is not None and self._held_pid == os.getpid():
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            if held is not None and self._held_pid == os.getpid():
                held.release()
