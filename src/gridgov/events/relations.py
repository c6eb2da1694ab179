"""Who may take an action on an event, beyond the role: the relations of the rule table
(``workflow.Who``). Each answers the post the user acts in, or None. The engine (and
``allowed_actions``) call them the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gridgov.accounts.scope import active_posts
from gridgov.core import codes
from gridgov.core.crypto import secret_digest
from gridgov.core.errors import Forbidden, NotFound
from gridgov.core.flow import Acting, Relation, Rule

from . import choices
from .models import Event
from .workflow import FIELD, OPS, Who


def _covers(post: Any, code: str) -> bool:
    return codes.covers(post.scope_code, code)


def centre(event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]) -> Acting | None:
    """An operator or leader whose scope covers the event at its handling level or above."""
    need = codes.LENGTH[codes.Level(event.handling_level)]
    for p in active_posts(user):
        if p.role not in rule.roles or p.role not in OPS:
            continue  # a centre acts through its operators and leaders only
        if _covers(p, event.grid_code) and len(p.scope_code) <= need:
            return Acting(p)
    return None


def assignee(event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]) -> Acting | None:
    """The grid's workers or the unit's people the event was sent to (a centre that received
    it as 属地兜底 handles it with its operators)."""
    for p in active_posts(user):
        if p.role not in rule.roles and not (p.role in OPS and event.assignee_kind == "unit"):
            continue
        if event.assignee_kind == "grid" and p.role in FIELD and _covers(p, event.assignee_grid):
            return Acting(p)
        if event.assignee_kind == "unit" and p.org_unit_id == event.assignee_unit_id:
            return Acting(p)
    return None


def centre_or_assignee(
    event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]
) -> Acting | None:
    return centre(event, user, rule, inputs) or assignee(event, user, rule, inputs)


def verifier(event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]) -> Acting | None:
    """Covers the event's grid, and did not handle it (someone else verifies)."""
    if event.handler_id is not None and event.handler_id == getattr(user, "pk", None):
        raise Forbidden("the person who handled an event may not verify it", "user")
    for p in active_posts(user):
        if p.role in rule.roles and _covers(p, event.grid_code):
            return Acting(p)
    return None


def supervisor(event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]) -> Acting | None:
    """Any covering post of the rule's roles; for a listed supervision, a leader's first."""
    posts = [p for p in active_posts(user) if p.role in rule.roles and _covers(p, event.grid_code)]
    if inputs.get("level") == "listed":
        posts.sort(key=lambda p: not choices.lists(p, event))
    return Acting(posts[0]) if posts else None


def reporter(event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]) -> Acting | None:
    """The citizen, by the secret of the receipt or (where the rule takes it) the last four
    digits of the phone they gave; a wrong proof answers like an unknown case."""
    if not proves_reporter(event, inputs.get("reporter_secret"), inputs.get("phone_last4")):
        raise NotFound()
    return Acting(None)


def proves_reporter(event: Event, secret: Any = None, phone_last4: Any = None) -> bool:
    """The receipt's secret proves it always. The phone's last four digits only for a report
    filed on the citizens' pages with that phone and not in a sensitive category: the people
    who know someone's digits include the other party of a dispute."""
    if secret:
        given = secret_digest(str(secret))
        return bool(event.reporter_secret_hash) and codes_equal(event.reporter_secret_hash, given)
    if not event.phone_proof or (event.category is not None and event.category.sensitive):
        return False
    digits = "".join(c for c in (event.reporter_phone or "") if c.isdigit())
    last4 = str(phone_last4 or "")
    return len(digits) >= 4 and len(last4) == 4 and codes_equal(digits[-4:], last4)


def system(event: Event, user: Any, rule: Rule, inputs: Mapping[str, Any]) -> Acting | None:
    return Acting(None)  # the engine lets only the platform's own code take system actions


def codes_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


RELATIONS: dict[str, Relation] = {
    Who.CENTRE: centre,
    Who.CENTRE_OR_ASSIGNEE: centre_or_assignee,
    Who.ASSIGNEE: assignee,
    Who.VERIFIER: verifier,
    Who.SUPERVISOR: supervisor,
    Who.REPORTER: reporter,
    Who.SYSTEM: system,
}
