"""Sign-in with a password (and a TOTP code where required): lockout and failure caps.

One authentication backend, ``GuardedBackend``, so every password sign-in goes through it:

- an address that failed too often gets 429 (``LOGIN_ADDRESS_FAILURE_RATE``);
- a locked username gets the generic failure without its password being checked;
- ``LOGIN_LOCKOUT_FAILURES`` failures within ``LOGIN_LOCKOUT_WINDOW`` seconds lock it for
  ``LOGIN_LOCKOUT_SECONDS`` (per account, or per account and address with
  ``LOGIN_LOCKOUT_PER_ADDRESS``); more than ``LOGIN_ACCOUNT_FAILURE_RATE`` failures from any
  addresses lock the account everywhere until that window ends;
- a wrong or missing TOTP code counts like a wrong password.

Unknown usernames are counted and locked exactly like real ones, so no answer and no timing
tells whether an account exists. State lives in the database (``Lockout`` rows updated by
compare-and-set, ``core.throttle`` counters), shared by every worker process.

Audit: at most one ``auth.login_failed`` row per account (or, for unknown names, per address)
per window and one row per lockout, never one per attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core import audit, sql, throttle
from gridgov.core.errors import TooManyRequests
from gridgov.core.models import AuditLog

from . import totp
from .models import Lockout

ADDRESS_FAILURES = "login.fail.address"
ACCOUNT_FAILURES = "login.fail.account"
AUDITED_FAILURE = "login.fail.audited"
CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class Policy:
    failures: int
    window: int
    lock_seconds: int
    per_address: bool
    account_rate: tuple[int, int]
    address_rate: tuple[int, int]


def policy() -> Policy:
    """Read on every sign-in, so settings overridden at run time (tests) apply at once."""
    return Policy(
        failures=int(settings.LOGIN_LOCKOUT_FAILURES),
        window=int(settings.LOGIN_LOCKOUT_WINDOW),
        lock_seconds=int(settings.LOGIN_LOCKOUT_SECONDS),
        per_address=bool(settings.LOGIN_LOCKOUT_PER_ADDRESS),
        account_rate=tuple(settings.LOGIN_ACCOUNT_FAILURE_RATE),  # type: ignore[arg-type]
        address_rate=tuple(settings.LOGIN_ADDRESS_FAILURE_RATE),  # type: ignore[arg-type]
    )


def account_key(username: str) -> str:
    return f"u:{username}"


def _key(username: str, ip: str, pol: Policy) -> str:
    """The row that counts failures: the account, or the account from one address. The kind
    comes first, so no crafted username can name another account's row."""
    return f"a:{ip} {username}" if pol.per_address and ip else account_key(username)


def _lock_keys(username: str, ip: str, pol: Policy) -> list[str]:
    # The account row also carries locks from the hourly cap in per-address mode.
    return sorted({account_key(username), _key(username, ip, pol)})


def locked_for(username: str, ip: str) -> int:
    """Seconds until ``username`` may try again from ``ip`` (0: not locked)."""
    now = timezone.now()
    until = (
        Lockout.objects.filter(key__in=_lock_keys(username, ip, policy()), locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    return 0 if until is None else max(1, int((until - now).total_seconds()))


def check_address(ip: str) -> None:
    """Refuse (429) an address that failed too often, before any password is checked."""
    if not ip:
        return
    limit, period = policy().address_rate
    wait = throttle.blocked(ADDRESS_FAILURES, throttle.address_ident(ip), limit, period)
    if wait:
        raise TooManyRequests(
            _("Too many failed sign-ins from your network. Try again in %(minutes)d minutes.")
            % {"minutes": max(1, (wait + 59) // 60)},
            wait,
        )


def _row(key: str, username: str, ip: str) -> Lockout:
    row = Lockout.objects.filter(key=key).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            source = "" if key == account_key(username) else ip
            return Lockout.objects.create(key=key, username=username, source_ip=source)
    except IntegrityError:  # another worker created it first
        return Lockout.objects.get(key=key)


def _add_failure(key: str, username: str, ip: str, pol: Policy) -> datetime | None:
    """Record one failure by compare-and-set; the end of the lock if it locks the key."""
    for _attempt in range(CAS_ATTEMPTS):
        row = _row(key, username, ip)
        now = timezone.now()
        if row.locked_until is not None and row.locked_until > now:
            return None  # raced past the lock check: already locked, audited once
        stamp = now.timestamp()
        recent = [t for t in row.failures if t > stamp - pol.window] + [stamp]
        until = now + timedelta(seconds=pol.lock_seconds)
        lock = 0 < pol.failures <= len(recent)
        changes: dict[str, Any] = {
            "failures": [] if lock else recent[-max(pol.failures, 1) :],
            "version": row.version + 1,
            "updated_at": now,
        }
        if lock:
            changes |= {"locked_until": until, "reason": "failures"}
        if Lockout.objects.filter(pk=row.pk, version=row.version).update(**changes):
            return until if lock else None
    return None


def _lock_until(key: str, username: str, until: datetime, reason: str) -> bool:
    """Lock ``key`` until ``until`` unless it already is; True when this call locked it."""
    for _attempt in range(CAS_ATTEMPTS):
        row = _row(key, username, "")
        if row.locked_until is not None and row.locked_until >= until:
            return False
        changes = {"locked_until": until, "reason": reason, "failures": []}
        changes |= {"version": row.version + 1, "updated_at": timezone.now()}
        if Lockout.objects.filter(pk=row.pk, version=row.version).update(**changes):
            return True
    return False


def _audit_lockout(user: Any, ip: str, until: datetime, reason: str, factor: str) -> None:
    detail = {
        "username": user.username,
        "until": timezone.localtime(until).isoformat(timespec="seconds"),
        "reason": reason,
        "factor": factor,
    }
    if policy().per_address and reason == "failures":
        detail["address"] = ip
    audit.record_now(
        "auth.lockout", obj=user, outcome=AuditLog.Outcome.DENIED, detail=detail, source_ip=ip
    )


def _masked(username: str) -> str:
    """Unknown names are often passwords typed into the wrong field: keep only a hint."""
    return f"{username[:2]}…({len(username)})"


def _audit_failure(username: str, ip: str, user: Any, factor: str, pol: Policy) -> None:
    """The first failure of an account (or of unknown names from an address) per window."""
    ident = f"user:{user.pk}" if user is not None else f"addr:{throttle.address_ident(ip)}"
    if throttle.hit(AUDITED_FAILURE, ident, 1, pol.window).count != 1:
        return
    detail: dict[str, Any] = {"username": user.username if user else _masked(username)}
    if user is None:
        detail["unknown"] = True
    elif factor != "password":
        detail["factor"] = factor
    audit.record_now(
        "auth.login_failed", outcome=AuditLog.Outcome.DENIED, detail=detail, source_ip=ip
    )


def _count_address_failure(ip: str, pol: Policy) -> None:
    limit, period = pol.address_rate
    result = throttle.hit(ADDRESS_FAILURES, throttle.address_ident(ip), limit, period)
    if result.count == limit:  # this failure closes the address: one row per block
        audit.record_now(
            "auth.address_blocked",
            outcome=AuditLog.Outcome.DENIED,
            detail={"address": throttle.address_ident(ip), "seconds": result.retry_after},
            source_ip=ip,
        )


def on_failure(username: str, ip: str, user: Any, factor: str) -> None:
    """Count a failed sign-in everywhere it counts; audit lockouts and first failures."""
    pol = policy()
    if ip:
        _count_address_failure(ip, pol)
    locked_until = _add_failure(_key(username, ip, pol), username, ip, pol)
    if locked_until is not None and user is not None:
        _audit_lockout(user, ip, locked_until, "failures", factor)
    limit, period = pol.account_rate
    capped = throttle.hit(ACCOUNT_FAILURES, username, limit, period)
    if capped.count >= limit:  # the limit-th failure is the last one checked this window
        until = timezone.now() + timedelta(seconds=capped.retry_after)
        if _lock_until(account_key(username), username, until, "hourly_cap") and user:
            _audit_lockout(user, ip, until, "hourly_cap", factor)
    _audit_failure(username, ip, user, factor, pol)
    if random.randrange(throttle.PURGE_ONE_IN) == 0:
        purge(pol)


def on_success(username: str, ip: str) -> None:
    """A good sign-in forgets the failures before it (not the hourly cap's count)."""
    keys = _lock_keys(username, ip, policy())
    Lockout.objects.filter(key__in=keys).update(
        failures=[], version=F("version") + 1, updated_at=timezone.now()
    )


def lift(row: Lockout) -> None:
    """A security administrator unlocks a username (see the Lockout admin)."""
    Lockout.objects.filter(pk=row.pk).update(
        locked_until=None,
        reason="",
        failures=[],
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    throttle.clear(ACCOUNT_FAILURES, row.username)


def purge(pol: Policy | None = None) -> int:
    """Forget rows with no lock and no failure inside the window."""
    pol = pol or policy()
    now = timezone.now()
    stale = Q(updated_at__lt=now - timedelta(seconds=pol.window)) & (
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    )
    return Lockout.objects.filter(stale).delete()[0]


class GuardedBackend(ModelBackend):
    """Django's model backend behind the lockout, the failure caps and the second factor."""

    def authenticate(
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        otp_code: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        username = str(username)[:150]
        ip = throttle.client_ip(request)
        check_address(ip)
        if locked_for(username, ip):
            return None  # the password is not even checked while locked
        user, failed = self._check(username, password, otp_code)
        if failed:
            on_failure(username, ip, user, failed)
            return None
        on_success(username, ip)
        return user

    def get_user(self, user_id: Any) -> Any:
        """The person a session signed in, on every console page and poll: one fixed statement
        (core.sql) instead of the ORM compiling the same lookup each time."""
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except (TypeError, ValueError, ValidationError):
            return None
        low, high = _pk_range(model)
        if not low <= pk <= high:  # as the ORM: an id out of the column's range is nobody
            return None
        names = [f.attname for f in model._meta.concrete_fields]
        found = sql.select(model, names, f"{_pk_column(model)} = %s", [pk])
        user = found[0] if found else None
        return user if user is not None and self.user_can_authenticate(user) else None

    async def aauthenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kw: Any
    ) -> Any:
        return await sync_to_async(self.authenticate)(request, username, password, **kw)

    def _check(self, username: str, password: str, otp_code: str | None) -> tuple[Any, str]:
        """(the account if it exists, which factor failed or "")."""
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            model().set_password(password)  # same work as for a real account (Django #20760)
            return None, "password"
        if not (user.check_password(password) and self.user_can_authenticate(user)):
            return user, "password"
        if totp.required(user) and not totp.verify(user, otp_code):
            return user, "totp"
        return user, ""


def _pk_range(model: Any) -> tuple[int, int]:
    low, high = connection.ops.integer_field_range(model._meta.pk.get_internal_type())
    return int(low), int(high)


def _pk_column(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.pk.column))
