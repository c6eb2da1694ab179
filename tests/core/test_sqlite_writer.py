"""One writer queue per process on SQLite (core/sqlite): threads wait on the process's lock,
not in SQLite's sleeping busy handler, and every way a transaction ends lets the next in."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError

from gridgov.core.sqlite.base import DatabaseWrapper, writer_lock

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "gridgov.core.sqlite",
    reason="the SQLite backend's writer queue; the SQLite run checks it",
)


def _conn(path: Path, alias: str, timeout: float = 20) -> DatabaseWrapper:
    base = settings.DATABASES["default"]
    options = {**base["OPTIONS"], "timeout": timeout}
    return DatabaseWrapper({**base, "NAME": str(path), "OPTIONS": options}, alias=alias)


def _table(conn: DatabaseWrapper) -> None:
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")


def test_a_write_transaction_holds_the_process_lock_until_commit(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    path = tmp_path / "w.sqlite3"
    conn = _conn(path, "w1")
    with django_db_blocker.unblock():
        _table(conn)
        lock = writer_lock(str(path))
        assert not lock.locked()
        with _atomic(conn):
            with conn.cursor() as cur:
                cur.execute("INSERT INTO t VALUES (1)")
            assert lock.locked()
        assert not lock.locked()
        with pytest.raises(RuntimeError), _atomic(conn):
            assert lock.locked()
            raise RuntimeError("rolled back")
        assert not lock.locked()
        conn.close()


def test_a_second_thread_waits_for_the_first_and_then_writes(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    path = tmp_path / "w.sqlite3"
    second = _conn(path, "b")
    order: list[str] = []
    inside = threading.Event()

    def slow_writer() -> None:
        first = _conn(path, "a")  # a connection belongs to the thread that opens it
        with _atomic(first):
            with first.cursor() as cur:
                cur.execute("INSERT INTO t VALUES (1)")
            inside.set()
            time.sleep(0.3)
            order.append("first commits")
        first.close()

    with django_db_blocker.unblock():
        _table(second)
        t = threading.Thread(target=slow_writer)
        t.start()
        inside.wait(5)
        with _atomic(second):
            order.append("second begins")
            with second.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM t")
                assert cur.fetchone()[0] == 1  # it began after the first committed
        t.join(5)
        second.close()
    assert order == ["first commits", "second begins"]


def test_a_writer_held_too_long_fails_the_waiter_as_a_locked_database(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    path = tmp_path / "w.sqlite3"
    holder, waiter = _conn(path, "h"), _conn(path, "x", timeout=0.2)
    with django_db_blocker.unblock():
        _table(holder)
        with (
            _atomic(holder),
            pytest.raises(OperationalError, match="writer queue"),
            _atomic(waiter),
        ):
            pass
        with _atomic(waiter):  # free again once the holder is done
            pass
        holder.close()
        waiter.close()


def test_closing_a_connection_inside_a_transaction_frees_the_lock(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    path = tmp_path / "w.sqlite3"
    conn = _conn(path, "c")
    with django_db_blocker.unblock():
        _table(conn)
        conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        assert writer_lock(str(path)).locked()
        conn.close()
        assert not writer_lock(str(path)).locked()


class _atomic:
    def __init__(self, conn: DatabaseWrapper) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.ensure_connection()
        self.conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()
        self.conn.set_autocommit(True)


def test_a_writer_of_another_process_is_waited_for_and_a_dead_one_frees_the_queue(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    """Another process holding the queue's file lock keeps our writer out (it fails as a
    locked database after its timeout); once that process dies the kernel frees the lock."""
    import subprocess
    import sys

    path = tmp_path / "w.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(path) + '.writer'!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        conn = _conn(path, "p", timeout=0.3)
        with django_db_blocker.unblock():
            _table(conn)
            with pytest.raises(OperationalError, match="all processes"), _atomic(conn):
                pass
            holder.kill()  # kill -9: nothing released it but the kernel
            holder.wait(5)
            with _atomic(conn), conn.cursor() as cur:
                cur.execute("INSERT INTO t VALUES (1)")
            conn.close()
    finally:
        holder.kill()
