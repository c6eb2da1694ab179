"""Durability settings and per-installation secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.backends.sqlite3.base import DatabaseWrapper


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite pragmas; the SQLite run checks them",
)
def test_sqlite_file_runs_wal_full_sync_and_immediate(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    config = {**settings.DATABASES["default"], "NAME": str(tmp_path / "x.sqlite3")}
    conn = DatabaseWrapper(config, alias="durability")
    with django_db_blocker.unblock():
        try:
            with conn.cursor() as cur:
                cur.execute("PRAGMA journal_mode")
                assert cur.fetchone()[0] == "wal"
                cur.execute("PRAGMA synchronous")
                assert cur.fetchone()[0] == 2  # FULL
                cur.execute("PRAGMA busy_timeout")
                assert cur.fetchone()[0] >= 5000
            assert conn.transaction_mode == "IMMEDIATE"
        finally:
            conn.close()


def test_each_installation_gets_its_own_secret_key(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k != "GRIDGOV_SECRET_KEY"}

    def key(data_dir: Path) -> str:
        env_ = {
            **env,
            "GRIDGOV_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "gridgov.settings",
        }
        out = subprocess.run([sys.executable, "-c", code], env=env_, capture_output=True, text=True)
        return out.stdout.strip()

    a1, a2, b = key(tmp_path / "a"), key(tmp_path / "a"), key(tmp_path / "b")
    assert len(a1) >= 50 and a1 == a2 and a1 != b
    assert (tmp_path / "a" / "secret-key").stat().st_mode & 0o077 == 0
