"""The closed loop (七步闭环) as data: states, and for every action the states it leaves, the
state it reaches and the roles that may take it. Pure: no database, no clock.

Relations beyond the role (the handler must be the assignee, the verifier must not be the
handler, an operator must cover the event's grid at its handling level) are checked by
``services.authorise`` from the ``who`` column.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role


class State(StrEnum):
    REPORTED = "reported"
    VERIFYING = "verifying"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    RETURNED = "returned"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    AWAITING_CHECK = "awaiting_check"
    CLOSED = "closed"
    ARCHIVED = "archived"
    REJECTED = "rejected"
    MERGED = "merged"
    CANCELLED = "cancelled"


STATE_LABELS = {
    State.REPORTED: _("awaiting acceptance"),
    State.VERIFYING: _("awaiting verification"),
    State.REGISTERED: _("registered"),
    State.DISPATCHED: _("awaiting signature"),
    State.RETURNED: _("returned, awaiting review"),
    State.IN_PROGRESS: _("being handled"),
    State.SUSPENDED: _("suspended"),
    State.AWAITING_CHECK: _("awaiting check"),
    State.CLOSED: _("closed"),
    State.ARCHIVED: _("archived"),
    State.REJECTED: _("not accepted"),
    State.MERGED: _("merged"),
    State.CANCELLED: _("cancelled"),
}

TERMINAL = frozenset({State.ARCHIVED, State.REJECTED, State.MERGED, State.CANCELLED})
OPEN = frozenset(State) - TERMINAL - {State.CLOSED}
# States in which a step clock runs (suspended pauses it; closed waits only for the return visit).
CLOCKED = OPEN - {State.SUSPENDED}

OPS = frozenset({Role.OPERATOR, Role.CENTRE_LEADER})
LEADERS = frozenset({Role.CENTRE_LEADER})
HANDLERS = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.DEPT_HANDLER})
FIELD = frozenset({Role.GRID_WORKER, Role.GRID_LEADER})
VERIFIERS = frozenset({Role.OPERATOR, Role.CENTRE_LEADER, Role.GRID_WORKER, Role.GRID_LEADER})


class Who(StrEnum):
    """Which relation to the event the actor must have, besides the role."""

    CENTRE = "centre"  # an operator/leader whose scope covers the event at its handling level
    ASSIGNEE = "assignee"  # the unit, grid or person the event is dispatched to
    VERIFIER = "verifier"  # covers the event's grid, and did not handle it
    REPORTER = "reporter"  # the citizen who reported it (by reporter secret)
    SUPERVISOR = "supervisor"  # an operator/leader covering the event, any level


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset[State]
    target: State | None  # None: the state does not change (flags, counters, approvals)
    roles: frozenset[str]
    who: Who
    needs_reason: bool = False


def _r(
    action: str,
    sources: AbstractSet[State],
    target: State | None,
    roles: frozenset[str],
    who: Who,
    needs_reason: bool = False,
) -> Rule:
    return Rule(action, frozenset(sources), target, roles, who, needs_reason)


S = State
RULES: dict[str, Rule] = {
    r.action: r
    for r in [
        _r("accept", {S.REPORTED}, S.REGISTERED, OPS, Who.CENTRE),
        _r("send_to_verify", {S.REPORTED}, S.VERIFYING, OPS, Who.CENTRE),
        _r("confirm", {S.VERIFYING}, S.REGISTERED, OPS | FIELD, Who.VERIFIER),
        _r("refute", {S.VERIFYING}, S.CANCELLED, OPS | FIELD, Who.VERIFIER, needs_reason=True),
        _r("reject", {S.REPORTED}, S.REJECTED, OPS, Who.CENTRE, needs_reason=True),
        _r("merge", {S.REPORTED, S.VERIFYING, S.REGISTERED}, S.MERGED, OPS, Who.CENTRE),
        _r("cancel", {S.REPORTED, S.VERIFYING}, S.CANCELLED, frozenset(), Who.REPORTER),
        _r("dispatch", {S.REGISTERED}, S.DISPATCHED, OPS, Who.CENTRE),
        _r("sign", {S.DISPATCHED}, S.IN_PROGRESS, HANDLERS, Who.ASSIGNEE),
        _r(
            "return",
            {S.DISPATCHED, S.IN_PROGRESS},
            S.RETURNED,
            HANDLERS,
            Who.ASSIGNEE,
            needs_reason=True,
        ),
        _r("redispatch", {S.RETURNED}, S.DISPATCHED, LEADERS, Who.CENTRE),
        _r("reject_return", {S.RETURNED}, S.DISPATCHED, LEADERS, Who.CENTRE, needs_reason=True),
        _r("close_no_action", {S.RETURNED}, S.CANCELLED, LEADERS, Who.CENTRE, needs_reason=True),
        _r(
            "request_extension",
            {S.DISPATCHED, S.IN_PROGRESS},
            None,
            HANDLERS,
            Who.ASSIGNEE,
            needs_reason=True,
        ),
        _r("approve_extension", {S.DISPATCHED, S.IN_PROGRESS}, None, LEADERS, Who.CENTRE),
        _r(
            "deny_extension",
            {S.DISPATCHED, S.IN_PROGRESS},
            None,
            LEADERS,
            Who.CENTRE,
            needs_reason=True,
        ),
        _r("request_suspension", {S.IN_PROGRESS}, None, HANDLERS, Who.ASSIGNEE, needs_reason=True),
        _r("approve_suspension", {S.IN_PROGRESS}, S.SUSPENDED, LEADERS, Who.CENTRE),
        _r("deny_suspension", {S.IN_PROGRESS}, None, LEADERS, Who.CENTRE, needs_reason=True),
        _r("resume", {S.SUSPENDED}, S.IN_PROGRESS, LEADERS | HANDLERS, Who.CENTRE),
        _r("report_result", {S.IN_PROGRESS}, S.AWAITING_CHECK, HANDLERS, Who.ASSIGNEE),
        _r("verify_pass", {S.AWAITING_CHECK}, S.CLOSED, VERIFIERS, Who.VERIFIER),
        _r(
            "verify_fail",
            {S.AWAITING_CHECK},
            S.IN_PROGRESS,
            VERIFIERS,
            Who.VERIFIER,
            needs_reason=True,
        ),
        _r("revisit", {S.CLOSED}, None, OPS, Who.CENTRE),
        _r("reopen", {S.CLOSED}, S.IN_PROGRESS, OPS, Who.CENTRE, needs_reason=True),
        _r("archive", {S.CLOSED}, S.ARCHIVED, OPS, Who.CENTRE),
        _r("escalate", OPEN - {S.REPORTED}, None, OPS, Who.CENTRE, needs_reason=True),
        _r("supervise", OPEN, None, OPS | {Role.LEADER}, Who.SUPERVISOR, needs_reason=True),
    ]
}

# The step whose clock starts when an event enters a state (see sla.STEP_LIMITS).
STEP_OF_STATE: dict[State, str] = {
    State.REPORTED: "accept",
    State.VERIFYING: "verify",
    State.REGISTERED: "dispatch",
    State.DISPATCHED: "sign",
    State.RETURNED: "review",
    State.IN_PROGRESS: "handle",
    State.AWAITING_CHECK: "check",
    State.CLOSED: "revisit",
}

LEVELS = ("township", "county", "city")


def rule(action: str) -> Rule:
    try:
        return RULES[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None


def allowed_from(action: str, state: State | str) -> bool:
    return State(state) in rule(action).sources


def next_level(level: str) -> str | None:
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None
