"""Who works in which grid: a centre leader puts a grid worker (or grid leader) on a grid of
their own area, or takes them off it. Each change is a post, written with its audit row in one
transaction; posts are ended (inactive), never deleted, so history stays."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from gridgov.core import audit, codes
from gridgov.core.errors import Forbidden, Invalid, NotFound
from gridgov.core.scope import covers
from gridgov.orgs.models import OrgUnit

from .models import ApiToken, Post, User
from .roles import Role

GRID_ROLES = (Role.GRID_WORKER, Role.GRID_LEADER)


def may_assign(actor: Any, grid_code: str) -> bool:
    return covers(actor, "post", "assign", grid_code)


def grid_staff(grid_code: str) -> QuerySet[Post]:
    """The active grid workers and grid leaders whose post is this grid."""
    return (
        Post.objects.filter(scope_code=grid_code, role__in=GRID_ROLES, active=True)
        .select_related("user")
        .order_by("role", "user__username")
    )


def do_assign_grid_post(actor: Any, grid_code: str, username: str, role: str) -> Post:
    if not may_assign(actor, grid_code):
        raise Forbidden("you may not assign workers to this grid")
    if role not in GRID_ROLES:
        raise Invalid({"role": "grid worker or grid leader"})
    user = User.objects.filter(username=username, is_active=True).first()
    # Only grid staff (or an account with no post yet) may be put on a grid: a leader's or an
    # administrator's account would take a grid's posts and lose its own view. One answer for
    # every refusal, so the form tells nothing about other accounts.
    if user is None or user.posts.filter(active=True).exclude(role__in=GRID_ROLES).exists():
        raise Invalid({"username": "no grid worker account with this name"})
    township = codes.township_of(grid_code)
    centre = OrgUnit.objects.filter(
        kind=OrgUnit.Kind.CENTRE, region_id=township, active=True
    ).first()
    if centre is None:
        raise Invalid({"grid": "no township centre serves this grid"})
    try:
        with transaction.atomic():
            post = _activate(user, centre, role, grid_code)
            audit.record(
                "post.assign",
                actor=actor,
                obj=post,
                detail={"user": user.username, "role": role, "grid": grid_code},
            )
    except IntegrityError:  # the same assignment, made at the same moment by someone else
        raise Invalid({"username": "already works in this grid"}) from None
    return post


def _activate(user: User, centre: OrgUnit, role: str, grid_code: str) -> Post:
    post, created = Post.objects.select_for_update().get_or_create(
        user=user, org_unit=centre, role=role, scope_code=grid_code
    )
    if not created and post.active:
        raise Invalid({"username": "already works in this grid"})
    if not created:
        post.active = True
        post.save(update_fields=["active"])
    return post


def do_end_grid_post(actor: Any, grid_code: str, post_id: int) -> Post:
    post = grid_staff(grid_code).filter(pk=post_id).first()
    if post is None:
        raise NotFound("no such post in this grid")
    if not may_assign(actor, grid_code):
        raise Forbidden("you may not change the workers of this grid")
    with transaction.atomic():
        updated = Post.objects.filter(pk=post.pk, active=True).update(active=False)
        if not updated:
            raise NotFound("no such post in this grid")
        audit.record(
            "post.end",
            actor=actor,
            obj=post,
            detail={"user": post.user.username, "role": post.role, "grid": grid_code},
        )
    return post


# ----------------------------------------------------------------------------- the app's devices

APP_ROLES = GRID_ROLES
APP_TOKEN_PREFIX = "app: "  # noqa: S105 (a label, not a secret)


def may_use_app(user: Any) -> bool:
    return Post.objects.filter(user=user, role__in=APP_ROLES, active=True).exists()


def do_issue_app_token(user: User, device: str, source_ip: str | None = None) -> str:
    """A bearer token for one phone: the app works for days without signal, longer than a
    browser session lives, and sends what it queued when the network returns."""
    if not may_use_app(user):
        raise Forbidden("the app is for grid workers and grid leaders")
    with transaction.atomic():
        token, raw = ApiToken.issue(user, (APP_TOKEN_PREFIX + device)[:100])
        audit.record(
            "auth.app_token",
            actor=user,
            obj=user,
            detail={"token": token.prefix, "device": device},
            source_ip=source_ip,
        )
    return raw


def do_revoke_app_token(user: Any, raw: str, source_ip: str | None = None) -> None:
    """Signing out of the app ends its token (only the caller's own)."""
    token = ApiToken.lookup(raw)
    if token is None or token.user_id != user.pk:
        return
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(revoked=True)
        audit.record(
            "auth.app_token_revoke",
            actor=user,
            obj=user,
            detail={"token": token.prefix},
            source_ip=source_ip,
        )
