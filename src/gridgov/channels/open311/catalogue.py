"""The services' attributes (Open311 "service definitions"), read from data/services.json, and
the check of the attribute values a client sends with a request.

Attributes are data, not code: every service offers those under "all" (the report's urgency),
and a category may add a few of its own. Values other than the urgency reach the operator as
lines of the report's first timeline note.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from gridgov.core.errors import Invalid
from gridgov.core.text import has_control

DATA = Path(__file__).resolve().parent / "data" / "services.json"
DATATYPES = frozenset({"string", "text", "number", "datetime", "singlevaluelist", "multivaluelist"})
LISTS = frozenset({"singlevaluelist", "multivaluelist"})
CODE = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_TEXT = {"string": 200, "text": 1000, "number": 32, "datetime": 40}
URGENCY = "urgency"


@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    required: bool
    order: int
    description: str
    datatype_description: str = ""
    values: tuple[Value, ...] = ()

    def names(self, keys: list[str]) -> str:
        found = {v.key: v.name for v in self.values}
        return "、".join(found.get(k, k) for k in keys)


@dataclass(frozen=True)
class Extras:
    keywords: str
    attributes: tuple[Attribute, ...]


def _attribute(row: dict[str, Any]) -> Attribute:
    values = tuple(Value(str(v["key"]), str(v["name"])) for v in row.get("values", []))
    a = Attribute(
        code=row["code"],
        datatype=row["datatype"],
        required=bool(row.get("required", False)),
        order=int(row["order"]),
        description=row["description"],
        datatype_description=row.get("datatype_description", ""),
        values=values,
    )
    if not CODE.fullmatch(a.code) or a.datatype not in DATATYPES:
        raise ImproperlyConfigured(f"{DATA.name}: bad attribute {a.code!r} ({a.datatype})")
    if (a.datatype in LISTS) != bool(a.values):
        raise ImproperlyConfigured(f"{DATA.name}: {a.code}: values go with list types only")
    return a


@cache
def _data() -> tuple[tuple[Attribute, ...], dict[str, Extras]]:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    common = tuple(_attribute(row) for row in raw["all"])
    extras = {
        code: Extras(
            keywords=str(item.get("keywords", "")),
            attributes=tuple(_attribute(row) for row in item.get("attributes", [])),
        )
        for code, item in raw["categories"].items()
    }
    for code, item in extras.items():
        codes = [a.code for a in common + item.attributes]
        if len(codes) != len(set(codes)):
            raise ImproperlyConfigured(f"{DATA.name}: {code}: an attribute code twice")
    return common, extras


def keywords(category_code: str) -> str:
    extras = _data()[1].get(category_code)
    return extras.keywords if extras else ""


def attributes(category_code: str, urgent_allowed: bool) -> tuple[Attribute, ...]:
    """What a service asks, in order; "urgent" only where the category has an urgent variant."""
    common, extras = _data()
    found = list(common) + list(extras[category_code].attributes if category_code in extras else [])
    if not urgent_allowed:
        found = [_normal_only(a) if a.code == URGENCY else a for a in found]
    return tuple(sorted(found, key=lambda a: (a.order, a.code)))


def _normal_only(a: Attribute) -> Attribute:
    return replace(a, values=tuple(v for v in a.values if v.key != "urgent"))


def check(defined: tuple[Attribute, ...], given: dict[str, list[str]]) -> dict[str, list[str]]:
    """The values of ``given`` (code → values as sent) checked against ``defined``: unknown
    codes, missing required ones and bad values are refused (``errors``), empty ones dropped."""
    by_code = {a.code: a for a in defined}
    errors = {
        f"attribute[{code}]": "not an attribute of this service"
        for code in given
        if code not in by_code
    }
    checked: dict[str, list[str]] = {}
    for a in defined:
        values = [v.strip() for v in given.get(a.code, []) if v.strip()]
        problem = _problem(a, values)
        if problem:
            errors[f"attribute[{a.code}]"] = problem
        elif values:
            checked[a.code] = values
    if errors:
        raise Invalid(errors)
    return checked


def _problem(a: Attribute, values: list[str]) -> str:
    if not values:
        return "required" if a.required else ""
    if a.datatype != "multivaluelist" and len(values) > 1:
        return "one value"
    if a.datatype in LISTS:
        keys = {v.key for v in a.values}
        if len(set(values)) != len(values) or not set(values) <= keys:
            return "one of " + ", ".join(v.key for v in a.values)
        return ""
    value = values[0]
    if len(value) > MAX_TEXT[a.datatype] or has_control(value):
        return f"at most {MAX_TEXT[a.datatype]} characters, no control characters"
    if a.datatype == "number" and not _number(value):
        return "a number"
    if a.datatype == "datetime" and not _datetime(value):
        return "an ISO 8601 date and time"
    return ""


def _number(value: str) -> bool:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", value):
        return False
    return math.isfinite(float(value))


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
