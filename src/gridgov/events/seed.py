"""Seed the category taxonomy and the step limits from the CSV files beside this module
(source: shared/reference/categories.md). Existing rows are left as administrators edited them."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from gridgov.orgs.models import Function

from .models import Category, TimeLimit

DATA = Path(__file__).resolve().parent / "data"


def parse_limit(text: str) -> tuple[Decimal, str]:
    amount, unit = text.split()
    return Decimal(amount), unit


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _function(name: str) -> Function | None:
    return Function.objects.get_or_create(name=name)[0] if name else None


@transaction.atomic
def seed_categories() -> int:
    created = 0
    for row in _rows("categories.csv"):
        top = len(row["code"]) == 2
        cat, new = Category.objects.get_or_create(
            code=row["code"],
            defaults={
                "name": row["name"],
                "parent": None if top else Category.objects.get(code=row["code"][:2]),
                "handler_kind": row["handler"] or Category.HandlerKind.DEPARTMENT,
                "function": _function(row["department"]),
                "public": row["public"] == "1",
                "sensitive": row["sensitive"] == "1",
                "urgent_allowed": bool(row["urgent"]) or top,
            },
        )
        created += new
        if new and not top:
            for urgency in ("normal", "urgent"):
                if row[urgency]:
                    amount, unit = parse_limit(row[urgency])
                    TimeLimit.objects.create(
                        category=cat, step="handle", urgency=urgency, amount=amount, unit=unit
                    )
    for row in _rows("step_limits.csv"):
        amount, unit = parse_limit(row["limit"])
        _, new = TimeLimit.objects.get_or_create(
            category=None,
            step=row["step"],
            urgency=row["urgency"],
            area_type=row["area_type"],
            defaults={"amount": amount, "unit": unit},
        )
        created += new
    return created
