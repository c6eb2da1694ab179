"""Users, posts (a user's job: org unit × role × region scope) and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.core import sql
from gridgov.core.fields import EncryptedTextField
from gridgov.orgs.models import OrgUnit

from .roles import ADMIN_ROLES, Role


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    # When the password was last set; drives expiry (accounts/passwords.py).
    password_changed_at = models.DateTimeField(
        _("password changed at"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # set_password() leaves the raw password in _password until the save; a hash upgrade
        # at login clears it first, so only real changes are stamped and remembered.
        changed = getattr(self, "_password", None) is not None
        if changed:
            self.password_changed_at = timezone.now()
            fields = kwargs.get("update_fields")
            if fields is not None and "password" in fields:
                kwargs["update_fields"] = {*fields, "password_changed_at"}
        super().save(*args, **kwargs)
        if changed:
            PasswordHistory.remember(self)

    def holds_admin_post(self) -> bool:
        """Whether any post (active or not) of the account is one of the three administrators'."""
        return self.pk is not None and self.posts.filter(role__in=ADMIN_ROLES).exists()


class Post(models.Model):
    """A job a user holds. The scope is a region or grid code prefix, matched as a code range."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="posts"
    )
    org_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("org unit"), on_delete=models.PROTECT, related_name="posts"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    scope_code = models.CharField(
        _("scope (region or grid code)"),
        max_length=15,
        validators=[RegexValidator(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12}|\d{15})$")],
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["user_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "org_unit", "role", "scope_code"], name="post_unique_job"
            ),
            # 三员分立 in the database: whatever grants posts, an account holds at most one
            # post of the three administrators.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(role__in=sorted(r.value for r in ADMIN_ROLES)),
                name="post_one_admin_role_per_user",
                violation_error_message=_(
                    "An account may hold only one administrator post "
                    "(system, security or audit administrator)."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.org_unit} · {self.scope_code}"

    def clean(self) -> None:
        """三员分立: an account holding one administrator post may not hold a second one."""
        if self.role in ADMIN_ROLES and self.user_id:
            others = Post.objects.filter(user_id=self.user_id, role__in=ADMIN_ROLES)
            if others.exclude(pk=self.pk).exists():
                raise ValidationError(
                    {"role": _("This account already holds another administrator role.")}
                )


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """Bearer token for the mobile app and integrations; only its SHA-256 is stored."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        raw = "gg_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=raw[:8], digest=_digest(raw))
        return token, raw

    @classmethod
    def lookup(cls, raw: str) -> ApiToken | None:
        """The live token and its active user: read on every API request, so a fixed
        statement (core.sql) rather than a join the ORM would compile each time."""
        found = sql.select_joined(
            cls,
            "user",
            "t.digest = %s AND t.revoked = %s AND r.is_active = %s",
            [_digest(raw), False, True],
        )
        return found[0] if found else None


class PasswordHistory(models.Model):
    """Hashes of an account's recent passwords, newest first, so none is reused too soon."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="password_history"
    )
    encoded = models.CharField(max_length=128)  # as stored in User.password
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("password history entry")
        verbose_name_plural = _("password history")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="pwhistory_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d}"

    @classmethod
    def remember(cls, user: User) -> None:
        """Keep the new hash; drop entries beyond what the history rule compares against."""
        cls.objects.create(user=user, encoded=user.password)
        keep = max(1, int(getattr(settings, "PASSWORD_HISTORY", 5)))
        old = cls.objects.filter(user=user).values_list("pk", flat=True)[keep:]
        cls.objects.filter(pk__in=list(old)).delete()


class TotpDevice(models.Model):
    """An authenticator app bound to an account (RFC 6238, accounts/totp.py)."""

    user = models.OneToOneField(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = EncryptedTextField(_("secret"))  # base32, SM4-encrypted at rest
    # The last time step accepted: codes of that step or earlier are refused (no replay).
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("TOTP authenticator")
        verbose_name_plural = _("TOTP authenticators")

    def __str__(self) -> str:
        return f"TOTP {self.user}"


class Lockout(models.Model):
    """Recent sign-in failures of one username (known or not) and its lock, if any.

    ``key`` names the username, or username and address when locks are per address
    (``LOGIN_LOCKOUT_PER_ADDRESS``). Updated by compare-and-set on ``version``, so every
    worker process sees and keeps the same count (accounts/signin.py)."""

    key = models.CharField(max_length=220, unique=True)
    username = models.CharField(_("username"), max_length=150, db_index=True)
    source_ip = models.CharField(_("source address"), max_length=64, blank=True)
    failures = models.JSONField(default=list)  # epoch seconds of recent failures, oldest first
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=16, blank=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("sign-in lockout")
        verbose_name_plural = _("sign-in lockouts")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.username} {self.source_ip}".strip()

    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()


class NotificationPreference(models.Model):
    """How one person wants to hear of one kind of notice beyond the console: by email, by SMS.
    ``topic`` "*" stands for every kind without a row of its own. Without any row the city's
    defaults apply (settings.NOTIFY_SMS_TOPICS, NOTIFY_EMAIL_TOPICS)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notify_preferences")
    topic = models.CharField(_("kind of notice"), max_length=48)
    email = models.BooleanField(_("by email"), default=False)
    sms = models.BooleanField(_("by SMS"), default=False)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [models.UniqueConstraint(fields=["user", "topic"], name="notify_pref_once")]

    def __str__(self) -> str:
        return f"{self.user} · {self.topic}"


class NotificationCursor(models.Model):
    """The newest in-app notice a person has seen: everything after it is unread. One mark per
    person, because a notice to a unit is one row shared by everyone in it."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="notify_cursor")
    seen_up_to = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user} {self.seen_up_to}"
