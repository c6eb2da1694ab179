"""Durability settings and per-installation secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from gridgov.core.sqlite.base import DatabaseWrapper


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "gridgov.core.sqlite",
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


def _settings_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDGOV_")}
    return {**env, "DJANGO_SETTINGS_MODULE": "gridgov.settings", **extra}


def _run(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_each_installation_gets_its_own_keys_outside_its_data(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"

    def key(name: str) -> str:
        env = _settings_env(
            tmp_path,
            GRIDGOV_DATA_DIR=str(tmp_path / name / "data"),
            GRIDGOV_KEY_DIR=str(tmp_path / name / "keys"),
        )
        return _run(code, env, tmp_path).stdout.strip()

    a1, a2, b = key("a"), key("a"), key("b")
    assert len(a1) >= 50 and a1 == a2 and a1 != b
    keys = tmp_path / "a" / "keys"
    assert keys.stat().st_mode & 0o077 == 0
    for name in ("secret-key", "audit-keys", "field-keys", "index-key"):
        assert (keys / name).stat().st_mode & 0o077 == 0
    assert not (tmp_path / "a" / "data" / "secret-key").exists()


def test_a_checkout_keeps_keys_in_dot_keys_not_in_dot_var(tmp_path: Path) -> None:
    out = _run(
        "from django.conf import settings; print(settings.KEY_DIR)",
        _settings_env(tmp_path),
        tmp_path,
    )
    assert out.stdout.strip() == str(tmp_path / ".keys"), out.stderr
    assert not (tmp_path / ".var" / "secret-key").exists()


def test_an_upgraded_installation_keeps_its_old_secret_for_the_audit_chain(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret-key").write_text("legacy-secret-" + "x" * 40)
    env = _settings_env(tmp_path, GRIDGOV_DATA_DIR=str(data), GRIDGOV_KEY_DIR=str(tmp_path / "k"))
    out = _run(
        "from django.conf import settings; print(settings.KEYS.audit_key_for(1))", env, tmp_path
    )
    assert "legacy-secret-" in out.stdout, out.stderr


@pytest.mark.parametrize(
    "case",
    ["no key dir", "key dir inside data", "missing key file"],
)
def test_production_refuses_to_start_without_its_keys(tmp_path: Path, case: str) -> None:
    data, keys = tmp_path / "data", tmp_path / "keys"
    extra = {"GRIDGOV_DEPLOYMENT": "production", "GRIDGOV_DATA_DIR": str(data)}
    if case == "key dir inside data":
        extra["GRIDGOV_KEY_DIR"] = str(data / "keys")
    elif case == "missing key file":
        from gridgov.core import keyring

        keyring.ensure(keys)
        (keys / "audit-keys").unlink()
        extra["GRIDGOV_KEY_DIR"] = str(keys)
    out = _run("print('started')", _settings_env(tmp_path, **extra), tmp_path)
    assert out.returncode != 0 and "started" not in out.stdout
    assert "ImproperlyConfigured" in out.stderr
    assert not (keys / "audit-keys").exists()  # production never makes keys by itself


def test_production_starts_with_its_keys_in_place(tmp_path: Path) -> None:
    from gridgov.core import keyring

    keyring.ensure(tmp_path / "keys")
    env = _settings_env(
        tmp_path,
        GRIDGOV_DEPLOYMENT="production",
        GRIDGOV_DATA_DIR=str(tmp_path / "data"),
        GRIDGOV_KEY_DIR=str(tmp_path / "keys"),
    )
    # ... and with its audit anchors outside the data directory
    out = _run("print('started')", env, tmp_path)
    assert out.returncode != 0 and "GRIDGOV_AUDIT_ANCHOR_FILE" in out.stderr
    env["GRIDGOV_AUDIT_ANCHOR_FILE"] = str(tmp_path / "anchors" / "audit-anchors.log")
    out = _run("print('started')", env, tmp_path)
    assert out.stdout.strip() == "started", out.stderr


def test_tests_run_on_scratch_data_and_keys_not_the_checkouts() -> None:
    checkout = Path(__file__).resolve().parents[2]
    for path in (settings.DATA_DIR, settings.KEY_DIR):
        assert checkout / ".var" not in (path, *path.parents)
        assert checkout / ".keys" not in (path, *path.parents)
