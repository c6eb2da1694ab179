"""What an action's inputs may be chosen from, for a given event and user: the grids and the
departments that may receive a dispatch, the categories, the time units… Each function takes
(event, user) and answers [(value, label)]. The same functions check what a dispatch may target
(``may_receive``), so what a page offers is what the engine accepts."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role
from gridgov.accounts.scope import active_posts
from gridgov.core import codes
from gridgov.core.workcal import UNITS
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from . import queries
from .models import UNIT_CHOICES, Category, Event
from .states import OPEN

Choices = list[tuple[str, str]]


def categories(event: Any, user: Any) -> Choices:
    rows = Category.objects.filter(active=True, parent__isnull=False).order_by("code")
    return [(c.code, f"{c.code} {c.name}") for c in rows]


def urgencies(event: Any, user: Any) -> Choices:
    return [(str(v), str(label)) for v, label in Event.Urgency.choices]


def dispatch_area(event: Event) -> str:
    """The area the event's handling centre runs: where it may send work to a grid."""
    return codes.area_at(event.grid_code, event.handling_level)


def dispatch_grids(event: Event, user: Any) -> Choices:
    """The grids offered for a dispatch: those of the event's own township. A county or city
    centre may send work to any grid of its area (the engine accepts it by code), but a list of
    a city's ten thousand grids helps nobody."""
    area = dispatch_area(event)
    township = codes.township_of(event.grid_code)
    offered = township if codes.covers(area, township) else area
    rows = Grid.objects.filter(codes.code_range("code", offered)).filter(effective_to__isnull=True)
    return [(g.code, f"{g.code} {g.name}") for g in rows.order_by("code")]


def receiving_units(event: Event) -> list[OrgUnit]:
    """Departments whose area covers the event, and the event's own township centre (属地兜底).
    A higher centre takes work only by escalation."""
    prefixes = [event.grid_code[:n] for n in sorted(codes.LENGTH.values()) if n <= 12]
    departments = OrgUnit.objects.filter(
        kind=OrgUnit.Kind.DEPARTMENT, active=True, region_id__in=prefixes
    )
    centre = OrgUnit.objects.filter(
        kind=OrgUnit.Kind.CENTRE, active=True, region_id=codes.township_of(event.grid_code)
    )
    return [*departments.order_by("code"), *centre]


def may_receive(unit: OrgUnit, event: Event) -> bool:
    if not unit.active:
        return False
    if unit.kind == OrgUnit.Kind.DEPARTMENT:
        return codes.covers(unit.region_id, event.grid_code)
    return unit.kind == OrgUnit.Kind.CENTRE and unit.region_id == codes.township_of(event.grid_code)


def dispatch_units(event: Event, user: Any) -> Choices:
    """The units that may receive the event; those whose function handles its category first."""
    function = event.category.function_id if event.category_id and event.category else None
    units = sorted(
        receiving_units(event), key=lambda u: function is None or u.function_id != function
    )
    marked = _("handles this category")
    return [
        (u.code, f"{u.name} ({marked})" if function and u.function_id == function else u.name)
        for u in units
    ]


def merge_parents(event: Event, user: Any) -> Choices:
    """The open reports nearby that the user may open: the likely duplicates."""
    seen = queries.visible_codes(user, event.duplicate_candidates)
    still_open = set(
        Event.objects.filter(code__in=seen, state__in=[s.value for s in OPEN]).values_list(
            "code", flat=True
        )
    )
    return [(code, code) for code in seen if code in still_open]


def time_units(event: Any, user: Any) -> Choices:
    labels = dict(UNIT_CHOICES)
    return [(u, str(labels.get(u, u))) for u in UNITS]


def satisfaction(event: Any, user: Any) -> Choices:
    labels = [
        _("very dissatisfied"),
        _("dissatisfied"),
        _("neutral"),
        _("satisfied"),
        _("very satisfied"),
    ]
    return [(str(n), str(label)) for n, label in enumerate(labels, start=1)]


# The reporter's rating of the result (the 3-step scale of city return visits).
RATINGS = {
    "satisfied": _("satisfied"),
    "basically": _("basically satisfied"),
    "unsatisfied": _("unsatisfied"),
}


def ratings(event: Any, user: Any) -> Choices:
    return [(k, str(v)) for k, v in RATINGS.items()]


# Who may list a supervision (挂牌督办): a leader whose post covers the event.
LISTING_ROLES = frozenset({Role.CENTRE_LEADER, Role.LEADER})


def lists(post: Any, event: Any) -> bool:
    return post.role in LISTING_ROLES and codes.covers(post.scope_code, event.grid_code)


def supervision_levels(event: Any, user: Any) -> Choices:
    """The ladder's steps; a listed supervision (挂牌督办) only for a leader covering the event
    (relations.supervisor then acts in that leader post, so what is offered is accepted)."""
    leader = any(lists(p, event) for p in active_posts(user))
    return [
        (str(v), str(label))
        for v, label in Event.UrgeLevel.choices
        if v and (leader or v != Event.UrgeLevel.LISTED)
    ]
