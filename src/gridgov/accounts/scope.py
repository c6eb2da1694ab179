"""The one scope filter every read goes through.

``restrict(queryset, user, action)`` keeps the rows whose region or grid code falls in one of the
user's posts' code ranges, for posts whose role may take ``action`` on that kind of record.
A code prefix is a subtree, so each post is one indexed range: ``code >= p AND code < p⁺``.
Views fetch single objects through the restricted queryset, so a foreign id is a plain 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q

from .roles import allowed

M = TypeVar("M", bound=models.Model)

# model label -> (resource name in roles.PERMISSIONS, code field or None for unscoped resources,
#                 longest prefix meaningful for that field)
_REGISTRY: dict[str, tuple[str, str | None, int]] = {}
# model label -> further code fields a row is also reachable by, e.g. an event dispatched to
# another grid is seen by that grid's workers as well as by those of the grid it lies in.
_ALSO: dict[str, tuple[str, ...]] = {}
# (resource, role) -> extra condition for a post of that role, e.g. a department handler sees
# only the events assigned to their own unit, not every event in their jurisdiction.
_NARROW: dict[tuple[str, str], Callable[[Any], Q]] = {}


def narrow(resource: str, role: str, condition: Callable[[Any], Q]) -> None:
    _NARROW[(resource, role)] = condition


def register(
    model: type[models.Model],
    resource: str,
    field: str | None,
    max_len: int,
    also: tuple[str, ...] = (),
) -> None:
    _REGISTRY[model._meta.label_lower] = (resource, field, max_len)
    _ALSO[model._meta.label_lower] = also


def upper_bound(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix`` (digits)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def code_range(field: str, prefix: str) -> Q:
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": upper_bound(prefix)})


def collapse(prefixes: Iterable[str]) -> list[str]:
    """Drop prefixes covered by a shorter one, so ranges never overlap."""
    kept: list[str] = []
    for p in sorted(set(prefixes), key=lambda s: (len(s), s)):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return sorted(kept)


def active_posts(user: Any) -> list[Any]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_gridgov_posts", None)
    if cached is None:
        cached = list(user.posts.filter(active=True).select_related("org_unit"))
        user._gridgov_posts = cached
    return cached


def prefixes_for(user: Any, resource: str, action: str, max_len: int = 15) -> list[str]:
    return collapse(
        p.scope_code[:max_len] for p in active_posts(user) if allowed(resource, p.role, action)
    )


def restrict(queryset: models.QuerySet[M], user: Any, action: str) -> models.QuerySet[M]:
    """The rows of ``queryset`` that ``user`` may ``action`` (view, list, search, export, map,
    stats, change). Unknown models and anonymous users get nothing."""
    entry = _REGISTRY.get(queryset.model._meta.label_lower)
    if entry is None:
        return queryset.none()
    resource, field, max_len = entry
    posts = [p for p in active_posts(user) if allowed(resource, p.role, action)]
    if not posts:
        return queryset.none()
    if field is None:
        return queryset
    fields = (field, *_ALSO.get(queryset.model._meta.label_lower, ()))
    plain = [p.scope_code[:max_len] for p in posts if (resource, p.role) not in _NARROW]
    q = Q()
    for prefix in collapse(plain):
        for f in fields:
            q |= code_range(f, prefix)
    for p in posts:
        extra = _NARROW.get((resource, p.role))
        if extra is not None:
            q |= code_range(field, p.scope_code[:max_len]) & extra(p)
    return queryset.filter(q)


def can(user: Any, resource: str, action: str) -> bool:
    return any(allowed(resource, p.role, action) for p in active_posts(user))


def covers(user: Any, resource: str, action: str, code: str) -> bool:
    """Whether ``code`` lies inside a range the user may ``action`` on ``resource``."""
    return any(code.startswith(p) for p in prefixes_for(user, resource, action))
