"""Django's SQLite backend with one writer path per process (ADR 0017).

SQLite admits one writer at a time. When it is busy, a waiting connection sleeps in SQLite's
busy handler in steps of 1, 2, 5, 10 … 100 ms and looks again, so eight threads racing for the
lock each sleep far longer than the lock is held: under a burst that sleeping is intake's whole
p99 tail. Here the threads of one process queue on a lock of their own before ``BEGIN
IMMEDIATE`` and are woken the moment the holder commits; only one thread per process ever
waits in SQLite's handler, for a writer of another process. Nothing else changes: the same
transactions, ``synchronous=FULL``, an answer only after COMMIT.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_guard = threading.Lock()
_writers: dict[str, threading.Lock] = {}


def writer_lock(name: str) -> threading.Lock:
    """This process's lock for the database file ``name``."""
    with _guard:
        return _writers.setdefault(name, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _held: threading.Lock | None = None

    def _start_transaction_under_autocommit(self) -> None:
        if self.is_in_memory_db():
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        lock = writer_lock(str(self.settings_dict["NAME"]))
        # as long as SQLite's own busy timeout: a writer stuck longer fails the same way
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        if not lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (this process's writer queue)")
        self._held = lock
        try:
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
        held, self._held = self._held, None
        if held is not None:
            held.release()
