"""The one vocabulary of codes: division levels and their code lengths, the handling levels of
governance centres, and the code arithmetic on them ("which township is this grid in"). Nothing
outside this module slices codes by hand.

Codes are stored at their significant length (ADR 0001): province 2, city 4, county 6,
township 9, village/community 12 digits; a grid is its village's 12 digits + a 3-digit serial.
A prefix is a subtree, so "everything in Qiaoxi" is one range: ``code >= '130104' AND code <
'130105'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from django.db.models import CharField, F, Func, Q
from django.db.models.lookups import GreaterThanOrEqual, LessThan


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    GRID = "grid"


LENGTH: dict[Level, int] = {
    Level.PROVINCE: 2,
    Level.CITY: 4,
    Level.COUNTY: 6,
    Level.TOWNSHIP: 9,
    Level.VILLAGE: 12,
    Level.GRID: 15,
}
LEVEL_OF_LENGTH = {n: level for level, n in LENGTH.items()}
SCOPE_PATTERN = r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12}|\d{15})$"

# Where governance centres sit, lowest first: an event is handled at one of these levels and
# escalates up the list.
HANDLING_LEVELS: tuple[Level, ...] = (Level.TOWNSHIP, Level.COUNTY, Level.CITY)


def at(code: str, level: Level | str) -> str:
    """The code of the ``level`` region that contains ``code`` (which must be that deep)."""
    n = LENGTH[Level(level)]
    if len(code) < n:
        raise ValueError(f"{code!r} is not as deep as a {level}")
    return code[:n]


def township_of(code: str) -> str:
    return at(code, Level.TOWNSHIP)


def county_of(code: str) -> str:
    return at(code, Level.COUNTY)


def village_of(code: str) -> str:
    return at(code, Level.VILLAGE)


def level_of(code: str) -> Level:
    try:
        return LEVEL_OF_LENGTH[len(code)]
    except KeyError:
        raise ValueError(f"{code!r} is no division or grid code") from None


def parent_of(code: str) -> str | None:
    """The code one division level up (a township's county, a county's city…), or None."""
    shorter = [n for n in sorted(LENGTH.values()) if n < len(code)]
    return code[: shorter[-1]] if shorter else None


def next_handling_level(level: Level | str) -> Level | None:
    i = HANDLING_LEVELS.index(Level(level))
    return HANDLING_LEVELS[i + 1] if i + 1 < len(HANDLING_LEVELS) else None


def area_at(code: str, level: Level | str) -> str:
    """The area a centre at ``level`` runs around ``code``: the code cut to that level."""
    return at(code, level)


def covers(prefix: str, code: str) -> bool:
    """Whether ``code`` lies in the subtree of ``prefix``."""
    return code.startswith(prefix)


def upper_bound(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix`` (digits)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def code_range(field: str, prefix: str, *, indexed: bool = True) -> Q:
    """``field`` in the subtree of ``prefix``, as one indexed range; with ``indexed=False`` the
    same rows, written so that SQLite does not answer the range from an index (core.scope
    decides when; SQLite only)."""
    if indexed:
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": upper_bound(prefix)})
    column = _NoIndex(F(field))
    return Q(GreaterThanOrEqual(column, prefix), LessThan(column, upper_bound(prefix)))


class _NoIndex(Func):
    """SQLite's unary plus: the column's value unchanged, but no index is used to find it."""

    template = "+%(expressions)s"
    output_field = CharField()


def collapse(prefixes: Iterable[str]) -> list[str]:
    """Drop prefixes covered by a shorter one, so ranges never overlap."""
    kept: list[str] = []
    for p in sorted(set(prefixes), key=lambda s: (len(s), s)):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return sorted(kept)
