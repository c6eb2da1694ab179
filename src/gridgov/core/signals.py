"""Audit every login, logout and failed login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import audit
from .models import AuditLog


def _ip(request: Any) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.record_now("auth.login", actor=user, obj=user, source_ip=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record_now("auth.logout", actor=user, obj=user, source_ip=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any) -> None:
    # Never store the password; the username attempted is what an investigator needs.
    audit.record_now(
        "auth.login_failed",
        outcome=AuditLog.Outcome.DENIED,
        detail={"username": str(credentials.get("username", ""))[:150]},
        source_ip=_ip(request),
    )
