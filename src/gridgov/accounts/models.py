"""Users, posts (a user's job: org unit × role × region scope) and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.orgs.models import OrgUnit

from .roles import ADMIN_ROLES, Role


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


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
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.org_unit} · {self.scope_code}"

    def clean(self) -> None:
        """三员分立: an account holding one admin role may not hold another role of the three."""
        if self.role in ADMIN_ROLES and self.user_id:
            others = (
                Post.objects.filter(user_id=self.user_id, role__in=ADMIN_ROLES)
                .exclude(role=self.role)
                .exclude(pk=self.pk)
            )
            if others.exists():
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
        return (
            cls.objects.select_related("user")
            .filter(digest=_digest(raw), revoked=False, user__is_active=True)
            .first()
        )
