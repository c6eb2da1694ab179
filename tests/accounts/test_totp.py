"""TOTP second factor (issue 6): RFC vectors, drift, replay, the admin login, the demo."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client

from gridgov.accounts import totp
from gridgov.accounts.models import Lockout, TotpDevice
from gridgov.accounts.signin import account_key
from gridgov.core.models import AuditLog

from ..factories import user_with_post
from .test_signin import PASSWORD, sign_in, signed_in

START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

# RFC 6238 appendix B: (time, SHA1, SHA256, SHA512), 8 digits, 30-second steps.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
KEYS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 4226 appendix D: HOTP values for counters 0..9.
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583"]


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc_6238_vectors(when: int, sha1: str, sha256: str, sha512: str) -> None:
    step = when // totp.STEP
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp.hotp(KEYS[digest], step, digits=8, digest=digest) == expected


def test_rfc_4226_vectors() -> None:
    assert [totp.hotp(KEYS["sha1"], i) for i in range(len(RFC4226))] == RFC4226


def test_secrets_are_base32_and_the_uri_is_what_apps_scan() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and totp._key(secret) and len(totp._key(secret)) == 20
    uri = totp.provisioning_uri("sys admin", secret)
    assert uri.startswith("otpauth://totp/gridgov%3Asys%20admin?secret=" + secret)
    assert "issuer=gridgov" in uri and "digits=6" in uri and "period=30" in uri


@pytest.mark.django_db
def test_codes_work_one_step_either_way_and_only_once() -> None:
    user = user_with_post("operator", "130104")
    device, _ = totp.enrol(user)
    with time_machine.travel(START, tick=False):
        now = START.timestamp()
        early, late = totp.code_at(device.secret, now - 30), totp.code_at(device.secret, now + 30)
        too_old = totp.code_at(device.secret, now - 60)
        current = totp.code_at(device.secret, now)
        assert not totp.verify(user, too_old)
        assert totp.verify(user, early)
        assert not totp.verify(user, early)  # reuse
        assert totp.verify(user, current)
        assert not totp.verify(user, early)  # older than one already used
        assert totp.verify(user, late)
        assert not totp.verify(user, current)
        assert not totp.verify(user, "") and not totp.verify(user, "12345a")


@pytest.mark.django_db
def test_the_secret_is_sm4_encrypted_at_rest() -> None:
    user = user_with_post("operator", "130104")
    device, _ = totp.enrol(user)
    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
        stored = cur.fetchone()[0]
    assert stored.startswith("sm4g1$") and device.secret not in stored
    assert TotpDevice.objects.get(pk=device.pk).secret == device.secret


@pytest.mark.django_db
def test_who_must_use_a_code(settings: Any) -> None:
    for role in ("sys_admin", "security_admin", "audit_admin", "centre_leader", "leader"):
        assert totp.required(user_with_post(role, "130104", is_staff=True)), role
    operator = user_with_post("operator", "130104")
    assert not totp.required(operator)
    totp.enrol(operator)
    assert totp.required(operator)  # anyone enrolled must use it
    settings.TOTP_REQUIRED_ROLES = ["operator"]
    assert totp.required(user_with_post("operator", "130105"))


@pytest.mark.django_db
def test_admin_login_asks_for_the_code_and_counts_bad_codes_as_failures() -> None:
    admin = user_with_post("security_admin", "130104", is_staff=True)
    admin.set_password(PASSWORD)
    admin.save()
    device, _ = totp.enrol(admin)
    page = Client().get("/admin/login/")
    assert 'name="otp_code"' in page.content.decode()
    with time_machine.travel(START, tick=False):
        missing = sign_in(Client(), admin.username, PASSWORD)
        wrong = sign_in(Client(), admin.username, PASSWORD, code="000000")
        unknown = sign_in(Client(), "nobody-at-all", PASSWORD, code="000000")
        errors = {tuple(r.context["form"].non_field_errors()) for r in (missing, wrong, unknown)}
        assert len(errors) == 1  # nothing tells that the password was right
        assert len(Lockout.objects.get(key=account_key(admin.username)).failures) == 2
        code = totp.code_at(device.secret)
        assert signed_in(sign_in(Client(), admin.username, PASSWORD, code=code))
        assert not signed_in(sign_in(Client(), admin.username, PASSWORD, code=code))  # replay
    failed = AuditLog.objects.filter(action="auth.login_failed", detail__username=admin.username)
    assert failed.get().detail.get("factor") == "totp"


@pytest.mark.django_db
def test_an_admin_without_an_authenticator_cannot_sign_in_with_the_password_alone() -> None:
    admin = user_with_post("audit_admin", "130104", is_staff=True)
    admin.set_password(PASSWORD)
    admin.save()
    assert not signed_in(sign_in(Client(), admin.username, PASSWORD))


@pytest.mark.django_db
def test_totp_command_enrols_shows_and_prints_the_current_code() -> None:
    user = user_with_post("leader", "130104")
    out = StringIO()
    call_command("totp", user.username, stdout=out)
    secret = TotpDevice.objects.get(user=user).secret
    assert secret in out.getvalue() and "otpauth://totp/" in out.getvalue()
    assert AuditLog.objects.filter(action="totp.enrol", object_id=str(user.pk)).exists()
    code = StringIO()
    call_command("totp", user.username, "--code", stdout=code)
    assert code.getvalue().strip() == totp.code_at(secret)
    call_command("totp", user.username, "--reset", stdout=StringIO())
    assert TotpDevice.objects.get(user=user).secret != secret


@pytest.mark.django_db
def test_demo_prints_how_each_account_signs_in() -> None:
    from gridgov.demo import city as demo

    out = StringIO()
    call_command("demo", "--county", "130104", stdout=out)
    text = out.getvalue()
    assert demo.demo_password() in text
    for name in ("sysadmin", "secadmin", "auditadmin", "city_leader", "city_analyst"):
        secret = TotpDevice.objects.get(user__username=name).secret
        assert secret in text and f"otpauth://totp/gridgov%3A{name}?secret={secret}" in text
    assert not TotpDevice.objects.filter(user__username="city_operator").exists()
    assert "gridgov totp USERNAME --code" in text


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["１２３４５６", "١٢٣٤٥٦", "12345６"])
def test_non_ascii_digits_are_a_plain_failure_not_an_error(code: str) -> None:
    """A right password with Unicode digits once crashed (500), telling the password was right."""
    admin = user_with_post("security_admin", "130104", is_staff=True)
    admin.set_password(PASSWORD)
    admin.save()
    totp.enrol(admin)
    with time_machine.travel(START, tick=False):
        r = sign_in(Client(), admin.username, PASSWORD, code=code)
        assert r.status_code == 200 and not signed_in(r)
        assert len(Lockout.objects.get(key=account_key(admin.username)).failures) == 1
