"""Password policy as Django validators (wired by ``PASSWORD_PROFILE`` in settings) and expiry.

The assessor's profile (等保): at least 8 characters from 3 of the 4 classes, not containing the
username, not a common password, none of the last 5, changed every 90 days. The ASVS profile:
at least 12 characters, no class rule, no expiry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = ("lower", "upper", "digit", "other")


def classes_in(password: str) -> set[str]:
    found = set()
    for ch in password:
        if ch.islower():
            found.add("lower")
        elif ch.isupper():
            found.add("upper")
        elif ch.isdigit():
            found.add("digit")
        else:
            found.add("other")  # punctuation, spaces, Chinese characters
    return found


class CharacterClassesValidator:
    """At least ``min_classes`` of lower case, upper case, digits and other characters."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        if len(classes_in(password)) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_few_classes")

    def get_help_text(self) -> str:
        return _(
            "Your password must mix at least %(n)d of: lower-case letters, upper-case letters, "
            "digits and other characters."
        ) % {"n": self.min_classes}


class NotContainingUsernameValidator:
    """The username may not appear in the password, in any letter case. Usernames shorter
    than ``min_length`` are ignored: a two-letter name turns up in passwords by chance."""

    def __init__(self, min_length: int = 3) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        username = (getattr(user, "username", "") or "").casefold()
        if len(username) >= self.min_length and username in password.casefold():
            raise ValidationError(
                _("Your password may not contain your username."),
                code="password_contains_username",
            )

    def get_help_text(self) -> str:
        return _("Your password may not contain your username.")


class HistoryValidator:
    """None of the account's last ``count`` passwords (the current one included)."""

    def __init__(self, count: int = 5) -> None:
        self.count = count

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        from .models import PasswordHistory

        recent = list(
            PasswordHistory.objects.filter(user_id=user.pk).values_list("encoded", flat=True)[
                : self.count
            ]
        )
        current = get_user_model().objects.filter(pk=user.pk).values_list("password", flat=True)
        for encoded in [*current, *recent]:
            if encoded and check_password(password, encoded):
                raise ValidationError(self._message(), code="password_reused")

    def _message(self) -> str:
        return ngettext(
            "Your password may not be your current password.",
            "Your password may not be one of your last %(n)d passwords.",
            self.count,
        ) % {"n": self.count}

    def get_help_text(self) -> str:
        return self._message()


def expires_at(user: Any) -> Any:
    """When the user's password expires, or None (no expiry, or never set through Django)."""
    days = int(getattr(settings, "PASSWORD_EXPIRY_DAYS", 0))
    changed = getattr(user, "password_changed_at", None)
    if days <= 0 or changed is None or not user.has_usable_password():
        return None
    return changed + timedelta(days=days)


def expired(user: Any) -> bool:
    deadline = expires_at(user)
    return deadline is not None and deadline <= timezone.now()
