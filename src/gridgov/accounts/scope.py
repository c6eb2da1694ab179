"""Who reaches what: a user's active posts, their roles' permissions (roles.PERMISSIONS) and
narrowings, handed to the one scope filter in ``core.scope``.

Everything reads through ``core.scope.restrict``; the names re-exported here are for the apps
above accounts that also need a user's posts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q

from gridgov.core import scope as core_scope
from gridgov.core import sql
from gridgov.core.codes import code_range, collapse, upper_bound
from gridgov.core.scope import Reach, can, covers, register, restrict

from .models import Post
from .roles import allowed

__all__ = [
    "active_posts",
    "all_posts",
    "can",
    "code_range",
    "collapse",
    "covers",
    "narrow",
    "prefixes_for",
    "register",
    "restrict",
    "upper_bound",
]

# (resource, role) -> extra condition for a post of that role, e.g. a department handler sees
# only the events assigned to their own unit, not every event in their jurisdiction.
_NARROW: dict[tuple[str, str], Callable[[Any], Q]] = {}


def narrow(resource: str, role: str, condition: Callable[[Any], Q]) -> None:
    _NARROW[(resource, role)] = condition


def active_posts(user: Any) -> list[Any]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_gridgov_posts", None)
    if cached is None:
        cached = _load_posts(user.pk)
        user._gridgov_posts = cached
    return cached


def all_posts(user: Any) -> list[Post]:
    """All of the person's active posts, whichever one they chose to work as."""
    return _load_posts(user.pk)


def _load_posts(user_id: int) -> list[Post]:
    """The user's active posts with their units, read once per request (core.sql: a fixed
    statement, as every API request reads them)."""
    return sql.select_joined(
        Post, "org_unit", "t.user_id = %s AND t.active = %s ORDER BY t.id", [user_id, True]
    )


def reaches(user: Any, resource: str, action: str) -> list[Reach]:
    """One reach per active post whose role may take ``action`` on ``resource``."""
    found = []
    for post in active_posts(user):
        if allowed(resource, post.role, action):
            extra = _NARROW.get((resource, post.role))
            found.append(Reach(post.scope_code, extra(post) if extra else None))
    return found


def prefixes_for(user: Any, resource: str, action: str, max_len: int = 15) -> list[str]:
    return core_scope.prefixes(user, resource, action, max_len)


core_scope.set_reach(reaches)
