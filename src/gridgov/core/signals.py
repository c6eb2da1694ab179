"""Audit every login and logout.

Failed logins are audited by the sign-in guard (accounts/signin.py), not here: one row per
account per window and one per lockout, so failing logins cannot grow the audit table.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from . import audit
from .throttle import client_ip


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.record_now("auth.login", actor=user, obj=user, source_ip=client_ip(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        # Set by the middleware that ends a session at its absolute limit.
        reason = getattr(request, "_gridgov_logout_reason", "")
        audit.record_now(
            "auth.logout",
            actor=user,
            obj=user,
            source_ip=client_ip(request),
            detail={"reason": reason} if reason else None,
        )
