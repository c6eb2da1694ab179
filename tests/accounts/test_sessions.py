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
    assert settings.SESSION_COOKIE_AGE == 900
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


def _stored(client: Client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_activity_saves_the_session_at_most_once_a_minute() -> None:
    """Reads do not write the session on every request: within a minute of the last recorded
    activity nothing is saved; after it, the activity is recorded and the expiry moves on."""
    assert not settings.SESSION_SAVE_EVERY_REQUEST
    user = staff()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in(sign_in(client, user.username, PASSWORD))
    first = _stored(client).expire_date
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        r = client.get("/admin/")
        assert r.status_code == 200
        assert settings.SESSION_COOKIE_NAME not in r.cookies  # not saved, cookie not re-sent
    assert _stored(client).expire_date == first
    with time_machine.travel(start + timedelta(seconds=70), tick=False):
        r = client.get("/admin/")
        assert r.status_code == 200 and settings.SESSION_COOKIE_NAME in r.cookies
    assert _stored(client).expire_date == first + timedelta(seconds=70)
    # Idle from the recorded activity: 15 minutes after it, not after the sign-in.
    with time_machine.travel(start + timedelta(seconds=70 + 899), tick=False):
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=70 + 899 + 901), tick=False):
        assert client.get("/admin/").status_code == 302


def test_a_passive_poll_never_writes_the_session() -> None:
    user = staff()
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in(sign_in(client, user.username, PASSWORD))
    before = _stored(client)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        r = client.get("/console/poll/?cursor=0", HTTP_X_GRIDGOV_PASSIVE="1")
        assert r.status_code == 200 and settings.SESSION_COOKIE_NAME not in r.cookies
    after = _stored(client)
    assert (after.expire_date, after.session_data) == (before.expire_date, before.session_data)


def test_sessions_and_their_person_are_read_by_fixed_statements() -> None:
    """The session and the signed-in person are read on every console request by statements
    built once (core.sql), with Django's rules: an expired session is no session, an inactive
    person or an id that is not one is nobody."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gridgov.accounts.sessions import SessionStore
    from gridgov.accounts.signin import GuardedBackend

    assert settings.SESSION_ENGINE == "gridgov.accounts.sessions"
    user = staff()
    client = Client()
    assert signed_in(sign_in(client, user.username, PASSWORD))
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    with CaptureQueriesContext(connection) as seen:
        data = SessionStore(session_key=key).load()
        person = GuardedBackend().get_user(data["_auth_user_id"])
    wheres = [q["sql"].split(" WHERE ")[1] for q in seen.captured_queries]
    assert person == user, wheres
    assert wheres[0].startswith(f"session_key = '{key}' AND expire_date > "), wheres
    assert wheres[1] == f'"id" = {user.pk}', wheres
    Session.objects.filter(session_key=key).update(expire_date=timezone.now())
    store = SessionStore(session_key=key)
    assert store.load() == {} and store.session_key is None
    assert client.get("/admin/").status_code == 302
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert GuardedBackend().get_user(user.pk) is None
    assert GuardedBackend().get_user("not a number") is None
    assert GuardedBackend().get_user(10**12) is None
    for huge in (10**20, -(10**20), "99999999999999999999", 2**63):  # found by a review
        assert GuardedBackend().get_user(huge) is None
