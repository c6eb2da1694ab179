"""gridgov adminpost: grant, revoke and list the three administrator posts (三员), on the server.

The admin refuses to grant these posts or to touch an account holding one, so whoever runs the
platform's server decides who the system, security and audit administrators are; every grant
and revocation is audited with the operating-system user who ran it.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction

from gridgov.accounts.models import Post, User
from gridgov.accounts.roles import ADMIN_ROLES
from gridgov.core import audit
from gridgov.orgs.models import OrgUnit


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class Command(BaseCommand):
    help = "Grant, revoke or list administrator posts (system, security, audit administrator)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        grant = sub.add_parser("grant", help="give USER an administrator post")
        grant.add_argument("username")
        grant.add_argument("role", choices=sorted(r.value for r in ADMIN_ROLES))
        grant.add_argument("--unit", required=True, help="org unit code, e.g. C1301")
        grant.add_argument("--scope", required=True, help="region code, e.g. 1301")
        revoke = sub.add_parser("revoke", help="take USER's administrator post away")
        revoke.add_argument("username")
        sub.add_parser("list", help="list administrator posts")

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, f"_{opts['action']}")(opts)

    def _grant(self, opts: dict[str, Any]) -> None:
        unit = OrgUnit.objects.filter(code=opts["unit"]).first()
        if unit is None:
            raise CommandError(f"no org unit {opts['unit']!r}")
        try:
            with transaction.atomic():
                user, created = User.objects.get_or_create(username=opts["username"])
                if created:
                    user.set_unusable_password()
                user.is_staff = True
                user.save()
                post = Post(user=user, org_unit=unit, role=opts["role"], scope_code=opts["scope"])
                post.full_clean()
                post.save()
                detail = {"username": user.username, "role": post.role, "scope": post.scope_code}
                audit.record("adminpost.grant", obj=post, detail={**detail, "by": _os_user()})
        except ValidationError as exc:
            raise CommandError("refused: " + " ".join(exc.messages)) from None
        except IntegrityError:  # a concurrent grant got there first
            raise CommandError(f"{opts['username']} already holds an administrator post") from None
        self.stdout.write(
            f"{user.username}: {post.get_role_display()} · {unit} · {post.scope_code}"
        )
        if created:
            self.stdout.write(
                f"new account: set its password with `gridgov changepassword {user.username}` "
                f"and its authenticator with `gridgov totp {user.username}`"
            )

    def _revoke(self, opts: dict[str, Any]) -> None:
        user = User.objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        with transaction.atomic():
            posts = list(Post.objects.filter(user=user, role__in=ADMIN_ROLES))
            for post in posts:
                detail = {"username": user.username, "role": post.role, "by": _os_user()}
                audit.record("adminpost.revoke", obj=post, detail=detail)
                post.delete()
            if posts and not user.posts.exists():
                User.objects.filter(pk=user.pk).update(is_staff=False)
        self.stdout.write(f"{user.username}: {len(posts)} administrator post(s) revoked")

    def _list(self, opts: dict[str, Any]) -> None:
        posts = Post.objects.filter(role__in=ADMIN_ROLES).select_related("user", "org_unit")
        for post in posts.order_by("role", "user__username"):
            self.stdout.write(
                f"{post.user.username:<20} {post.role:<15} {post.org_unit.code:<12} "
                f"{post.scope_code} {'' if post.active else '(inactive)'}".rstrip()
            )
