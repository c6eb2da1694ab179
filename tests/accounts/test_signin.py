"""Sign-in lockout and failure caps (issue 6): the real admin login, real middleware."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from gridgov.accounts.models import Lockout, User
from gridgov.accounts.signin import account_key
from gridgov.core.models import AuditLog

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Right-horse-42"
CST = ZoneInfo("Asia/Shanghai")
# At the start of a minute, so a burst stays in one rate-limit window.
START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=CST)


def staff(password: str = PASSWORD) -> User:
    user = UserFactory(is_staff=True)
    user.set_password(password)
    user.save()
    return user


def sign_in(
    client: Client, username: str, password: str, ip: str = "10.1.1.1", code: str = ""
) -> Any:
    data = {"username": username, "password": password, "otp_code": code, "next": "/admin/"}
    return client.post("/admin/login/", data, REMOTE_ADDR=ip)


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def checks() -> Iterator[mock.MagicMock]:
    """Counts the passwords actually checked against a stored hash."""
    with mock.patch.object(
        MD5PasswordHasher, "verify", autospec=True, side_effect=MD5PasswordHasher.verify
    ) as spy:
        yield spy


def audit_rows() -> int:
    return AuditLog.objects.count()


def test_a_thousand_wrong_passwords_check_at_most_ten_and_lock_the_account(
    checks: mock.MagicMock,
) -> None:
    victim, other = staff(), staff()
    attacker = Client()
    before = audit_rows()
    with time_machine.travel(START, tick=False):
        answers = [
            sign_in(attacker, victim.username, f"guess-{i}").status_code for i in range(1000)
        ]
        # The address limit (60 sign-in posts a minute) answers the rest with 429.
        assert answers.count(200) == 60 and answers.count(429) == 940
        assert checks.call_count <= 10
        assert checks.call_count == 5  # the lock stops checking after the fifth failure
        lock = Lockout.objects.get(key=account_key(victim.username))
        assert lock.locked_until == START + timedelta(minutes=30)
        # Meanwhile another account signs in normally from another address …
        assert signed_in(sign_in(Client(), other.username, PASSWORD, ip="10.2.2.2"))
        # … while the right password of the locked account is refused, unchecked.
        refused = sign_in(Client(), victim.username, PASSWORD, ip="10.3.3.3")
        assert refused.status_code == 200 and not signed_in(refused)
        assert checks.call_count == 6  # only the other account's password
    actions = list(AuditLog.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert len(actions) <= 4
    assert actions.count("auth.login_failed") == 1 and actions.count("auth.lockout") == 1
    with time_machine.travel(START + timedelta(minutes=31), tick=False):
        assert signed_in(sign_in(Client(), victim.username, PASSWORD))


def test_unknown_users_wrong_passwords_and_locks_get_one_answer(checks: mock.MagicMock) -> None:
    user = staff()
    messages = set()
    with time_machine.travel(START, tick=False):
        for username in (user.username, "nobody-here"):
            for _ in range(6):  # five failures lock, the sixth meets the lock
                r = sign_in(Client(), username, "wrong-Password-1")
                assert r.status_code == 200
                messages.add(tuple(r.context["form"].non_field_errors()))
        assert len(messages) == 1
        # Unknown names are locked exactly like real ones.
        assert Lockout.objects.get(key=account_key("nobody-here")).is_locked()
        assert Lockout.objects.get(key=account_key(user.username)).is_locked()
    assert checks.call_count == 5  # unknown names never reach a stored hash


def test_failures_count_within_a_sliding_window() -> None:
    user = staff()
    with time_machine.travel(START + timedelta(minutes=20), tick=False):
        for _ in range(4):
            sign_in(Client(), user.username, "nope")
    with time_machine.travel(START + timedelta(minutes=45), tick=False):
        sign_in(Client(), user.username, "nope")
        # Five failures within 30 minutes, though not within one fixed half hour.
        assert Lockout.objects.get(key=account_key(user.username)).is_locked()


def test_failures_older_than_the_window_are_forgotten() -> None:
    user = staff()
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            sign_in(Client(), user.username, "nope")
    with time_machine.travel(START + timedelta(minutes=31), tick=False):
        for _ in range(4):
            sign_in(Client(), user.username, "nope")
        assert not Lockout.objects.get(key=account_key(user.username)).is_locked()
        assert signed_in(sign_in(Client(), user.username, PASSWORD))
        assert Lockout.objects.get(key=account_key(user.username)).failures == []  # success forgets


def test_lock_length_and_threshold_are_settings(settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    user = staff()
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            sign_in(Client(), user.username, "nope")
        assert not signed_in(sign_in(Client(), user.username, PASSWORD))
    with time_machine.travel(START + timedelta(minutes=10, seconds=1), tick=False):
        assert signed_in(sign_in(Client(), user.username, PASSWORD))


def test_per_address_locks_and_the_hourly_cap_across_addresses(settings: Any) -> None:
    settings.LOGIN_LOCKOUT_PER_ADDRESS = True
    settings.LOGIN_ACCOUNT_FAILURE_RATE = (12, 3600)
    user = staff()
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            sign_in(Client(), user.username, "nope", ip="10.9.0.1")
        # Locked from that address only: the owner elsewhere is not locked out by a stranger.
        assert not signed_in(sign_in(Client(), user.username, PASSWORD, ip="10.9.0.1"))
        assert signed_in(sign_in(Client(), user.username, PASSWORD, ip="10.9.0.2"))
        # 4 failures from each of many addresses: none locks, but the account's total does.
        for n in range(3, 6):
            for _ in range(4):
                sign_in(Client(), user.username, "nope", ip=f"10.9.0.{n}")
        assert Lockout.objects.get(key=account_key(user.username)).reason == "hourly_cap"
        assert not signed_in(sign_in(Client(), user.username, PASSWORD, ip="10.9.0.2"))
    lockouts = AuditLog.objects.filter(action="auth.lockout", object_id=str(user.pk))
    assert sorted(lockouts.values_list("detail__reason", flat=True)) == ["failures", "hourly_cap"]
    with time_machine.travel(START + timedelta(hours=1, seconds=1), tick=False):
        assert signed_in(sign_in(Client(), user.username, PASSWORD, ip="10.9.0.2"))


def test_an_address_that_fails_too_often_gets_429(settings: Any, checks: mock.MagicMock) -> None:
    settings.LOGIN_ADDRESS_FAILURE_RATE = (8, 900)
    users = [staff() for _ in range(10)]
    before = audit_rows()
    with time_machine.travel(START, tick=False):
        answers = [sign_in(Client(), u.username, "nope", ip="10.7.7.7") for u in users]
        assert [r.status_code for r in answers] == [200] * 8 + [429] * 2
        refused = answers[-1]
        assert 0 < int(refused["Retry-After"]) <= 900
        assert refused["Content-Type"].startswith("text/plain")
        assert checks.call_count == 8
        # Other addresses are unaffected.
        assert signed_in(sign_in(Client(), users[-1].username, PASSWORD, ip="10.7.7.8"))
    blocked = AuditLog.objects.filter(seq__gt=before, action="auth.address_blocked")
    assert blocked.count() == 1


def test_sign_in_posts_are_limited_per_address_with_retry_after(settings: Any) -> None:
    with time_machine.travel(START, tick=False):
        c = Client()
        answers = [c.post("/admin/login/", {}, REMOTE_ADDR="10.5.5.5") for _ in range(61)]
        assert answers[59].status_code == 200
        assert answers[60].status_code == 429 and answers[60]["Retry-After"] == "60"
        assert "default-src 'self'" in answers[60]["Content-Security-Policy"]
        assert c.post("/admin/login/", {}, REMOTE_ADDR="10.5.5.6").status_code == 200
        assert c.get("/admin/login/", REMOTE_ADDR="10.5.5.5").status_code == 200  # GET is free
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert c.post("/admin/login/", {}, REMOTE_ADDR="10.5.5.5").status_code == 200


def test_public_api_posts_get_a_json_429_after_twenty_an_hour() -> None:
    c = Client()
    url = "/api/v1/public/events/SJZ0000/cancel"
    with time_machine.travel(START, tick=False):
        for _ in range(20):
            assert c.post(url, {}, content_type="application/json").status_code != 429
        r = c.post(url, {}, content_type="application/json")
    assert r.status_code == 429 and int(r["Retry-After"]) == 3600
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["request"] and detail[0]["type"] == "TooManyRequests"


def test_a_proxy_in_front_passes_the_client_address(settings: Any) -> None:
    from django.test import RequestFactory

    from gridgov.core.throttle import address_ident, client_ip

    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    forwarded = "6.6.6.6, 10.4.4.4"  # the client may forge the left part, not the right
    req = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(req) == "10.4.4.4"
    direct = RequestFactory().get("/", REMOTE_ADDR="10.8.8.8", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client_ip(direct) == "10.8.8.8"
    assert address_ident("2001:db8:1:2:3:4:5:6") == address_ident("2001:db8:1:2::9")


def test_security_admin_sees_and_lifts_lockouts_audited(as_user: Any) -> None:
    user = staff()
    for _ in range(5):
        sign_in(Client(), user.username, "nope")
    row = Lockout.objects.get(key=account_key(user.username))
    assert as_user("sysadmin").get("/admin/accounts/lockout/").status_code == 403
    sec = as_user("secadmin")
    page = sec.get("/admin/accounts/lockout/?locked=yes")
    assert page.status_code == 200 and user.username in page.content.decode()
    r = sec.post(
        "/admin/accounts/lockout/",
        {"action": "lift", "_selected_action": [row.pk]},
    )
    assert r.status_code == 302
    assert not Lockout.objects.get(pk=row.pk).is_locked()
    lifted = AuditLog.objects.filter(action="auth.unlock").latest("seq")
    assert lifted.actor_name == "secadmin" and lifted.detail["username"] == user.username
    assert signed_in(sign_in(Client(), user.username, PASSWORD))


def test_bad_bearer_tokens_are_throttled_per_address_without_audit_rows() -> None:
    from gridgov.accounts.models import ApiToken

    from ..factories import user_with_post

    _, good = ApiToken.issue(user_with_post("grid_worker", "130104008019008"), "phone")
    before = audit_rows()

    def me(token: str, ip: str = "10.3.0.1") -> Any:
        return Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=ip)

    with time_machine.travel(START, tick=False):
        assert [me(f"gg_guess{i}").status_code for i in range(20)] == [401] * 20
        refused = me("gg_guess-21")
        assert refused.status_code == 429 and refused["Retry-After"] == "600"
        assert refused.json()["detail"][0]["loc"] == ["request"]
        assert me(good).status_code == 429  # a guess that hits learns nothing either
        assert me(good, ip="10.3.0.2").status_code == 200
    assert audit_rows() == before
    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        assert me(good).status_code == 200
