"""Password policy (issue 6): the two profiles, history, expiry forcing a change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from gridgov import settings as gridgov_settings
from gridgov.accounts.models import ApiToken, PasswordHistory, User
from gridgov.core.models import AuditLog

from ..factories import UserFactory, user_with_post

pytestmark = pytest.mark.django_db


def codes(password: str, user: Any, profile: str | None = None) -> set[str]:
    validators = None
    if profile:
        validators = password_validation.get_password_validators(
            gridgov_settings.password_validators(profile)
        )
    try:
        password_validation.validate_password(password, user, validators)
    except ValidationError as exc:
        return {e.code for e in exc.error_list if e.code}
    return set()


@pytest.fixture
def user() -> User:
    u = UserFactory(username="zhangwei")
    u.set_password("Start-Pass-2026")
    u.save()
    return u


def test_the_assessor_profile_is_the_default(user: User) -> None:
    assert codes("Ab1-xyz", user) >= {"password_too_short"}
    assert codes("abcdefgh12", user) == {"password_too_few_classes"}  # 2 classes
    assert codes("Abcdefgh12", user) == set()  # 3 classes
    assert "password_contains_username" in codes("xZhangWei-2026", user)
    assert "password_too_common" in codes("Password1", user)
    assert codes("Start-Pass-2026", user) == {"password_reused"}


def test_the_asvs_profile_wants_length_not_classes(user: User) -> None:
    assert codes("correcthorsebattery", user, "asvs") == set()
    assert codes("Abc-1234xyz", user, "asvs") == {"password_too_short"}  # 11 characters
    assert gridgov_settings.PASSWORD_PROFILES["asvs"]["expiry_days"] == 0


def test_none_of_the_last_five_passwords_comes_back(user: User) -> None:
    used = ["Start-Pass-2026"] + [f"Next-Pass-{i}x" for i in range(5)]
    for password in used[1:]:
        assert codes(password, user) == set()
        user.set_password(password)
        user.save()
    assert PasswordHistory.objects.filter(user=user).count() == 5
    for recent in used[1:]:
        assert codes(recent, user) == {"password_reused"}
    assert codes(used[0], user) == set()  # six passwords ago


def test_a_password_change_is_stamped_but_a_hash_upgrade_is_not(user: User, settings: Any) -> None:
    later = timezone.now() + timedelta(days=3)
    with time_machine.travel(later, tick=False):
        user.set_password("Another-Pass-7")
        user.save()
    assert User.objects.get(pk=user.pk).password_changed_at == later
    history = PasswordHistory.objects.filter(user=user).count()
    # Signing in with a newly preferred hasher re-hashes the same password: not a change.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    fresh = User.objects.get(pk=user.pk)
    assert fresh.check_password("Another-Pass-7")
    fresh = User.objects.get(pk=user.pk)
    assert fresh.password.startswith("scrypt$") and fresh.password_changed_at == later
    assert PasswordHistory.objects.filter(user=user).count() == history


def expired_session_user() -> tuple[User, Client]:
    user = user_with_post("operator", "130104", is_staff=True)
    user.set_password("Old-Password-1")
    user.save()
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(days=91))
    client = Client()
    client.force_login(user)
    return user, client


def test_an_expired_password_sends_the_session_to_the_change_page() -> None:
    user, client = expired_session_user()
    r = client.get("/admin/")
    assert r.status_code == 302 and r["Location"] == "/admin/password_change/"
    assert client.get("/admin/password_change/").status_code == 200
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.json()["detail"][0]["type"] == "PasswordExpired"
    _, raw = ApiToken.issue(user, "app")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me").status_code == 200
    r = client.post(
        "/admin/password_change/",
        {
            "old_password": "Old-Password-1",
            "new_password1": "Fresh-Pass-2027",
            "new_password2": "Fresh-Pass-2027",
        },
    )
    assert r.status_code == 302 and r["Location"] == "/admin/password_change/done/"
    assert client.get("/admin/").status_code == 200  # same session, password fresh
    row = AuditLog.objects.filter(action="auth.password_change").latest("seq")
    assert row.actor_id == user.pk


def test_the_change_page_applies_the_policy() -> None:
    _, client = expired_session_user()
    r = client.post(
        "/admin/password_change/",
        {"old_password": "Old-Password-1", "new_password1": "short", "new_password2": "short"},
    )
    assert r.status_code == 200 and r.context["form"].errors["new_password2"]


def test_no_expiry_when_the_profile_has_none(settings: Any) -> None:
    settings.PASSWORD_EXPIRY_DAYS = 0
    _, client = expired_session_user()
    assert client.get("/admin/").status_code == 200


def test_the_expiry_setting_is_ninety_days_by_default() -> None:
    from django.conf import settings

    assert settings.PASSWORD_EXPIRY_DAYS == 90 and settings.PASSWORD_PROFILE == "assessor"
