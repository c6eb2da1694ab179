"""The database-backed rate limiter (core/throttle.py), in one process and across several."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from gridgov.accounts.models import Lockout, User
from gridgov.accounts.signin import account_key
from gridgov.core import throttle
from gridgov.core.models import AuditLog, RateCounter

START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.django_db
def test_hits_within_the_limit_pass_and_the_rest_wait_for_the_window() -> None:
    with time_machine.travel(START + timedelta(seconds=15), tick=False):
        results = [throttle.hit("t", "a", 3, 60) for _ in range(5)]
        assert [r.allowed for r in results] == [True, True, True, False, False]
        assert results[-1].count == 5 and results[-1].retry_after == 45
        assert throttle.hit("t", "b", 3, 60).allowed  # another ident
        assert throttle.hit("u", "a", 3, 60).allowed  # another limit
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        assert throttle.hit("t", "a", 3, 60).count == 1  # a new window


@pytest.mark.django_db
def test_blocked_asks_without_counting() -> None:
    with time_machine.travel(START, tick=False):
        assert throttle.blocked("t", "a", 2, 600) == 0
        throttle.hit("t", "a", 2, 600)
        assert throttle.blocked("t", "a", 2, 600) == 0
        throttle.hit("t", "a", 2, 600)
        assert throttle.blocked("t", "a", 2, 600) == 600
        assert throttle.count("t", "a", 600) == 2


@pytest.mark.django_db
def test_expired_windows_are_purged_and_idents_cleared() -> None:
    with time_machine.travel(START, tick=False):
        throttle.hit("t", "old", 5, 60)
        throttle.hit("t", "gone", 5, 3600)
    throttle.clear("t", "gone")
    assert not RateCounter.objects.filter(ident="gone").exists()
    with time_machine.travel(START + timedelta(minutes=2), tick=False):
        throttle.hit("t", "new", 5, 60)  # may purge by itself now and then
        throttle.purge()
    assert list(RateCounter.objects.filter(name="t").values_list("ident", flat=True)) == ["new"]


@pytest.fixture
def committed(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Real commits, so other processes see them; cleaned up after (audit rows stay)."""
    name = str(connection.settings_dict["NAME"])
    assert "test" in name, f"refusing to commit test data into {name}"
    with django_db_blocker.unblock():
        yield
        RateCounter.objects.filter(name__startswith="test.").delete()
        Lockout.objects.filter(username__startswith="shared-").delete()
        User.objects.filter(username__startswith="shared-").delete()


def run_processes(n: int, code: str) -> None:
    env = dict(os.environ)
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        env.update(GRIDGOV_DB="sqlite", GRIDGOV_SQLITE_PATH=name)
    else:
        env.update(GRIDGOV_DB="postgres", GRIDGOV_PG_NAME=name)
    env["GRIDGOV_DATA_DIR"] = str(settings.DATA_DIR)
    script = f"import django; django.setup()\n{code}"
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
        for _ in range(n)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]


def test_worker_processes_share_one_count(committed: None) -> None:
    code = (
        "from gridgov.core import throttle\n"
        "for _ in range(50):\n"
        "    throttle.hit('test.shared', 'x', 10**6, 10**9)\n"
    )
    run_processes(4, code)
    assert throttle.count("test.shared", "x", 10**9) == 200


def test_worker_processes_lock_an_account_once(committed: None) -> None:
    user = User.objects.create(username="shared-victim")
    user.set_password("Right-horse-42")
    user.save()
    before = AuditLog.objects.count()
    code = (
        "from django.contrib.auth import authenticate\n"
        "for i in range(4):\n"
        "    authenticate(None, username='shared-victim', password=f'wrong-{i}')\n"
    )
    run_processes(4, code)  # 16 attempts at once from four processes
    assert Lockout.objects.get(key=account_key("shared-victim")).is_locked()
    rows = AuditLog.objects.filter(seq__gt=before).values_list("action", flat=True)
    assert sorted(rows) == ["auth.lockout", "auth.login_failed"]
