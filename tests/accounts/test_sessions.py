"""Staff sessions (issue 6): new id at sign-in, idle 15 minutes, absolute 12 hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from gridgov.core.models import AuditLog

from .test_signin import PASSWORD, sign_in, signed_in, staff

pytestmark = pytest.mark.django_db


def test_the_session_id_changes_at_sign_in() -> None:
    user = staff()
    client = Client()
    before = client.session  # an anonymous session with something in it
    before["seen"] = True
    before.save()
    old_key = before.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert signed_in(sign_in(client, user.username, PASSWORD))
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert not Session.objects.filter(session_key=old_key).exists()
    assert client.get("/admin/").status_code == 200
    row = AuditLog.objects.filter(action="auth.login").latest("seq")
    assert row.object_id == str(user.pk)


def test_an_idle_session_ends_after_fifteen_minutes() -> None:
    assert settings.SESSION_COOKIE_AGE == 900 and settings.SESSION_SAVE_EVERY_REQUEST
    user = staff()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in(sign_in(client, user.username, PASSWORD))
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert client.get("/admin/").status_code == 302


def test_an_active_session_still_ends_twelve_hours_after_sign_in() -> None:
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 3600
    user = staff()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in(sign_in(client, user.username, PASSWORD))
    for minutes in range(10, 12 * 60, 10):  # busy all day: never idle for 15 minutes
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/admin/").status_code == 200, minutes
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        r = client.get("/admin/")
        assert r.status_code == 302 and r["Location"].startswith("/admin/login/")
        assert client.get("/api/v1/me").status_code == 401
    row = AuditLog.objects.filter(action="auth.logout").latest("seq")
    assert row.object_id == str(user.pk) and row.detail == {"reason": "session_limit"}


def test_sign_out_is_audited(as_user: Any) -> None:
    client = as_user("sysadmin")
    assert client.post("/admin/logout/").status_code == 200
    row = AuditLog.objects.filter(action="auth.logout").latest("seq")
    assert row.actor_name == "sysadmin" and row.detail == {}
