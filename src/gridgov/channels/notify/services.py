"""Connecting a department's own system: its webhook and the account it answers with."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from gridgov.accounts.models import ApiToken, Post, User
from gridgov.accounts.roles import Role
from gridgov.core import audit
from gridgov.core.errors import Invalid
from gridgov.orgs.models import OrgUnit

from .models import Webhook


def _unit(code: str) -> OrgUnit:
    unit = OrgUnit.objects.select_related("region").filter(code=code, active=True).first()
    if unit is None or unit.kind != OrgUnit.Kind.DEPARTMENT:
        raise Invalid({"unit": f"no active department {code!r}"})
    return unit


def _check_url(url: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise Invalid({"url": "an http or https address"}) from None
    if len(url) > 300:
        raise Invalid({"url": "at most 300 characters"})
    return url


def _account(unit: OrgUnit) -> User:
    """The department system's own account: a department handler of this unit, no password."""
    user, made = User.objects.get_or_create(
        username=f"system-{unit.code}".lower()[:150],
        defaults={"display_name": f"{unit.name} · system"[:64], "is_active": True},
    )
    if made:
        user.set_unusable_password()
        user.save()
    Post.objects.get_or_create(
        user=user, org_unit=unit, role=Role.DEPT_HANDLER, scope_code=unit.region.code
    )
    return user


def do_connect(unit_code: str, url: str) -> tuple[Webhook, str, str]:
    """Connect (or reconnect, with new secrets) a department: answers the webhook, its signing
    secret and the account's API token. Earlier tokens of the account stop working."""
    unit, url = _unit(unit_code), _check_url(url)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        user = _account(unit)
        ApiToken.objects.filter(user=user, revoked=False).update(revoked=True)
        _token, raw = ApiToken.issue(user, "department system")
        hook, _ = Webhook.objects.update_or_create(
            unit=unit,
            defaults={
                "url": url,
                "secret": secret,
                "account": user,
                "created_at": timezone.now(),
                "active": True,
            },
        )
        audit.record("department.connect", obj=hook, detail={"unit": unit.code, "url": url})
    return hook, secret, raw


def do_disconnect(unit_code: str) -> bool:
    """No more deliveries, and the account's tokens stop working."""
    with transaction.atomic():
        hook = Webhook.objects.select_related("unit").filter(unit__code=unit_code).first()
        if hook is None or not hook.active:
            return False
        hook.active = False
        hook.save(update_fields=["active"])
        ApiToken.objects.filter(user=hook.account, revoked=False).update(revoked=True)
        audit.record("department.disconnect", obj=hook, detail={"unit": unit_code})
    return True
