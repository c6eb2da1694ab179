"""The one scope filter every read goes through.

``restrict(queryset, user, action)`` keeps the rows whose region or grid code falls in the
caller's reach for ``action`` on that kind of record. A code prefix is a subtree, so each reach
is one indexed range: ``code >= p AND code < p⁺``. Views fetch single objects through the
restricted queryset, so a foreign id is a plain 404.

This module knows codes and querysets, not people: who reaches what is supplied by the accounts
app (posts and roles) through ``set_reach``. So regions, grids and the admin base filter by
scope without importing accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import Q

from .codes import code_range, collapse

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Reach:
    """What one of a user's posts lets them reach: a code subtree, possibly narrowed further
    (a department handler reaches only the events sent to their own unit)."""

    prefix: str
    condition: Q | None = None


@dataclass(frozen=True)
class Scoped:
    resource: str  # the resource name in the permission table (accounts.roles)
    field: str | None  # the code field; None: the resource has no region (the audit log)
    max_len: int  # the longest prefix meaningful for that field
    also: tuple[str, ...] = ()  # further code fields a row is also reached by


ReachFn = Callable[[Any, str, str], list[Reach]]
_REGISTRY: dict[str, Scoped] = {}
_reach: ReachFn = lambda user, resource, action: []  # noqa: E731  (until accounts sets it)


def set_reach(fn: ReachFn) -> None:
    """Who reaches what: (user, resource, action) → reaches (the accounts app supplies it)."""
    global _reach
    _reach = fn


def reach(user: Any, resource: str, action: str) -> list[Reach]:
    return _reach(user, resource, action)


def register(
    model: type[models.Model],
    resource: str,
    field: str | None,
    max_len: int,
    also: tuple[str, ...] = (),
) -> None:
    _REGISTRY[model._meta.label_lower] = Scoped(resource, field, max_len, also)


# SQLite keeps no statistics of how many rows a range holds (it is built without STAT4): a
# county's range and a grid's look alike to its planner. For a page of a list read in an order
# that has an index of its own (newest first, most urgent first) it then reads every row of a
# broad range and sorts them all (90 ms for a county's 50,000 events), where walking the
# order's index and testing each row's code stops at the page's end (0.1 ms). A narrow range
# (a village, a grid) is best read by its index (0.1 ms, against 6 ms walking the order).
BROAD_PREFIX = 9  # a township's code or shorter


def indexed(prefix: str, ordered: bool) -> bool:
    """Whether a code range should drive an index: always, except a broad one in an ordered
    read on SQLite (see BROAD_PREFIX)."""
    return not (ordered and len(prefix) <= BROAD_PREFIX and connection.vendor == "sqlite")


def restrict(
    queryset: models.QuerySet[M], user: Any, action: str, *, ordered: bool = False
) -> models.QuerySet[M]:
    """The rows of ``queryset`` that ``user`` may ``action`` (view, list, search, export, map,
    stats, change). Unknown models and users without a reach get nothing. ``ordered``: the
    caller reads the first rows in an indexed order (a page of a list); the rows are the same,
    only how the database finds them may change (``indexed``)."""
    entry = _REGISTRY.get(queryset.model._meta.label_lower)
    if entry is None:
        return queryset.none()
    reaches = reach(user, entry.resource, action)
    if not reaches:
        return queryset.none()
    if entry.field is None:
        return queryset
    fields = (entry.field, *entry.also)
    plain = [r.prefix[: entry.max_len] for r in reaches if r.condition is None]
    q = Q()
    for prefix in collapse(plain):
        for f in fields:
            q |= code_range(f, prefix, indexed=indexed(prefix, ordered))
    for r in reaches:
        if r.condition is not None:
            prefix = r.prefix[: entry.max_len]
            q |= code_range(entry.field, prefix, indexed=indexed(prefix, ordered)) & r.condition
    return queryset.filter(q)


def signature(model: type[models.Model], user: Any, action: str) -> tuple[Any, ...]:
    """What ``restrict`` makes of ``user`` and ``action`` on ``model``: two calls with equal
    signatures filter with the same SQL (core.sql.fetch_compiled keeps it under this key)."""
    entry = _REGISTRY.get(model._meta.label_lower)
    reaches = tuple(reach(user, entry.resource, action)) if entry else ()
    return (model._meta.label_lower, action, reaches)


def parts(queryset: models.QuerySet[M], user: Any, action: str) -> list[models.QuerySet[M]]:
    """``restrict`` as disjoint querysets whose union is the same rows: rows reached by their
    own code, then rows reached only by a further code field (an event dispatched into the
    reach from outside it). Each part is a plain range, so a database can answer an aggregate
    from one covering index instead of merging two (SQLite's multi-index OR reads every row);
    sum the parts. A reach narrowed by a condition is not split."""
    entry = _REGISTRY.get(queryset.model._meta.label_lower)
    reaches = reach(user, entry.resource, action) if entry else []
    if entry is None or entry.field is None or not entry.also or not reaches:
        return [restrict(queryset, user, action)]
    if any(r.condition is not None for r in reaches):
        return [restrict(queryset, user, action)]
    own, other = Q(), Q()
    for prefix in collapse(r.prefix[: entry.max_len] for r in reaches):
        own |= code_range(entry.field, prefix)
        for f in entry.also:
            other |= code_range(f, prefix)
    return [queryset.filter(own), queryset.filter(other).exclude(own)]


def can(user: Any, resource: str, action: str) -> bool:
    return bool(reach(user, resource, action))


def prefixes(user: Any, resource: str, action: str, max_len: int = 15) -> list[str]:
    return collapse(r.prefix[:max_len] for r in reach(user, resource, action))


def covers(user: Any, resource: str, action: str, code: str) -> bool:
    """Whether ``code`` lies inside a range the user may ``action`` on ``resource``."""
    return any(code.startswith(p) for p in prefixes(user, resource, action))
