from __future__ import annotations

from typing import Any

import factory

from gridgov.accounts.models import Post, User
from gridgov.orgs.models import OrgUnit


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"测试用户{n}")


def user_with_post(role: str, scope: str, unit_code: str | None = None, **kw: Any) -> User:
    """A user holding one post; the org unit defaults to the centre of the scope's region."""
    user = UserFactory(**kw)
    region = scope[:12] if len(scope) == 15 else scope
    while not OrgUnit.objects.filter(code=unit_code or f"C{region}").exists():
        region = region[: {12: 9, 9: 6, 6: 4}[len(region)]]
    unit = OrgUnit.objects.get(code=unit_code or f"C{region}")
    Post.objects.create(user=user, org_unit=unit, role=role, scope_code=scope)
    return user
