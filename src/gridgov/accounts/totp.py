"""Second factor: time-based one-time passwords (RFC 6238, HOTP of RFC 4226 underneath).

Six digits, 30-second steps, HMAC-SHA1: what every authenticator app understands (as a MAC,
HMAC-SHA1 is still sound). A code is accepted one step early or late for
clock drift, and only once: the device remembers the last step it accepted.
Who must use it: accounts holding a post of ``TOTP_REQUIRED_ROLES`` and anyone who has enrolled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.utils import timezone

from .models import TotpDevice

STEP = 30
DIGITS = 6
DRIFT_STEPS = 1
_CODE = re.compile(r"^[0-9]{6}$")  # ASCII digits only: \d also matches ١٢٣…


def new_secret() -> str:
    """160 random bits (RFC 4226's recommended key length), base32 without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    clean = secret.replace(" ", "").upper()
    return base64.b32decode(clean + "=" * (-len(clean) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: dynamic truncation of HMAC(key, counter)."""
    mac = hmac.new(key, struct.pack(">Q", counter), getattr(hashlib, digest)).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(when: float | None = None) -> int:
    now = timezone.now().timestamp() if when is None else when
    return int(now // STEP)


def code_at(secret: str, when: float | None = None) -> str:
    return hotp(_key(secret), step_at(when))


def provisioning_uri(username: str, secret: str) -> str:
    """The otpauth:// URI authenticator apps scan (as a QR code) or accept pasted."""
    issuer = str(getattr(settings, "TOTP_ISSUER", "gridgov"))
    label = quote(f"{issuer}:{username}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP}
    )
    return f"otpauth://totp/{label}?{query}"


def required(user: Any) -> bool:
    """Whether ``user`` must give a code: enrolled, or holding a post of a listed role."""
    if TotpDevice.objects.filter(user=user).exists():
        return True
    roles = set(getattr(settings, "TOTP_REQUIRED_ROLES", ()))
    return user.posts.filter(role__in=roles, active=True).exists()


def verify(user: Any, code: str | None) -> bool:
    """Check ``code`` for ``user``'s device, and spend it: the same code never works twice."""
    code = (code or "").strip()
    if not _CODE.match(code):
        return False
    device = TotpDevice.objects.filter(user=user).first()
    if device is None:
        return False
    key, now = _key(device.secret), step_at()
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(hotp(key, step), code):
            # Compare-and-set, so two workers cannot both accept one code.
            spent = TotpDevice.objects.filter(pk=device.pk, last_step__lt=step)
            return spent.update(last_step=step) == 1
    return False


def enrol(user: Any, reset: bool = False) -> tuple[TotpDevice, bool]:
    """The user's device, created (or given a new secret with ``reset``); True if new."""
    device = TotpDevice.objects.filter(user=user).first()
    if device is not None and not reset:
        return device, False
    if device is None:
        return TotpDevice.objects.create(user=user, secret=new_secret()), True
    device.secret, device.last_step = new_secret(), 0
    device.save(update_fields=["secret", "last_step"])
    return device, True
