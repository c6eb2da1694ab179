"""The closed loop (七步闭环) as data: states, and for every action the states it leaves, the
state it reaches, the roles and the relation the actor needs, the inputs it takes (and which
it requires), whether it keeps the step clock, and its label. The engine (core/flow.py) runs it;
``services`` supplies the relations and the handlers.

Relations (``who``):
- centre: an operator/leader whose scope covers the event at its handling level;
- centre_or_assignee: either (a suspension ends by the centre or by whoever handles it);
- assignee: the unit, grid or person the event is dispatched to;
- verifier: covers the event's grid, and did not handle it;
- supervisor: an operator/leader covering the event, any level (or a leader / analyst);
- reporter: the citizen who reported it, by the secret of the receipt;
- system: the platform itself (the ticker's alarms, grid redraws).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role
from gridgov.core.flow import REPORTER, SYSTEM, Input, Rule

from . import choices
from .states import CLOCKED, OPEN, PUBLIC_STATES, STATE_LABELS, STEP_OF_STATE, TERMINAL, State

__all__ = [
    "CLOCKED",
    "OPEN",
    "PUBLIC_STATES",
    "RULES",
    "STATE_LABELS",
    "STEP_OF_STATE",
    "TERMINAL",
    "State",
]


OPS = frozenset({Role.OPERATOR, Role.CENTRE_LEADER})
LEADERS = frozenset({Role.CENTRE_LEADER})
HANDLERS = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.DEPT_HANDLER})
FIELD = frozenset({Role.GRID_WORKER, Role.GRID_LEADER})
VERIFIERS = frozenset({Role.OPERATOR, Role.CENTRE_LEADER, Role.GRID_WORKER, Role.GRID_LEADER})


class Who(StrEnum):
    CENTRE = "centre"
    CENTRE_OR_ASSIGNEE = "centre_or_assignee"
    ASSIGNEE = "assignee"
    VERIFIER = "verifier"
    REPORTER = "reporter"
    SUPERVISOR = "supervisor"
    SYSTEM = "system"


# ----------------------------------------------------------------------------- inputs

REASON = Input("reason", "text", _("reason"), required=True)
NOTE_REQUIRED = Input("note", "text", _("what was done"), required=True)
FOUND = Input("note", "text", _("what you found"), required=True)
CATEGORY = Input("category", "choice", _("category"), choices=choices.categories)
URGENCY = Input("urgency", "choice", _("urgency"), choices=choices.urgencies)
TARGET_GRID = Input("target_grid", "choice", _("grid"), choices=choices.dispatch_grids)
TARGET_UNIT = Input("target_unit", "choice", _("department"), choices=choices.dispatch_units)
PARENT = Input("parent", "choice", _("merge into"), required=True, choices=choices.merge_parents)
AMOUNT = Input("amount", "decimal", _("extra time"), required=True)
UNIT = Input("unit", "choice", _("time unit"), required=True, choices=choices.time_units)
SATISFACTION = Input(
    "satisfaction", "choice", _("satisfaction"), required=True, choices=choices.satisfaction
)
SATISFACTION_OPTIONAL = Input(
    "satisfaction", "choice", _("satisfaction"), choices=choices.satisfaction
)
LEVEL = Input("level", "choice", _("supervision level"), choices=choices.supervision_levels)
SECRET = Input("reporter_secret", "text", _("receipt secret"), required=True)
# The reporter proves it is theirs by the receipt's secret or the phone's last four digits.
SECRET_OR = Input("reporter_secret", "text", _("receipt secret"))
PHONE4 = Input("phone_last4", "text", _("last four digits of the phone"))
RATING = Input("rating", "choice", _("rating"), required=True, choices=choices.ratings)
COMMENT = Input("comment", "text", _("comment"))
REPLY = Input("reply", "text", _("public reply"), required=True)
NEW_GRID = Input("grid", "code", _("grid"), required=True)
INSIDE = Input("inside", "boolean", _("inside the grid"))


def _r(
    action: str,
    sources: AbstractSet[State],
    target: State | None,
    roles: frozenset[str],
    who: Who,
    label: object,
    *inputs: Input,
    keeps_clock: bool = False,
    by: str = "user",
) -> Rule:
    return Rule(
        action,
        frozenset(s.value for s in sources),
        target.value if target else None,
        roles,
        who.value,
        label,
        tuple(inputs),
        keeps_clock,
        by,
    )


S = State
NOBODY: frozenset[str] = frozenset()
RULES: dict[str, Rule] = {
    r.action: r
    for r in [
        _r("accept", {S.REPORTED}, S.REGISTERED, OPS, Who.CENTRE, _("Accept"), CATEGORY, URGENCY),
        _r("send_to_verify", {S.REPORTED}, S.VERIFYING, OPS, Who.CENTRE, _("Send to verify")),
        _r(
            "confirm",
            {S.VERIFYING},
            S.REGISTERED,
            OPS | FIELD,
            Who.VERIFIER,
            _("Confirm"),
            CATEGORY,
            URGENCY,
        ),
        _r("refute", {S.VERIFYING}, S.CANCELLED, OPS | FIELD, Who.VERIFIER, _("Refute"), REASON),
        _r("reject", {S.REPORTED}, S.REJECTED, OPS, Who.CENTRE, _("Do not accept"), REASON),
        _r(
            "merge",
            {S.REPORTED, S.VERIFYING, S.REGISTERED},
            S.MERGED,
            OPS,
            Who.CENTRE,
            _("Merge into another event"),
            PARENT,
        ),
        _r(
            "cancel",
            {S.REPORTED, S.VERIFYING},
            S.CANCELLED,
            NOBODY,
            Who.REPORTER,
            _("Withdraw"),
            SECRET,
            by=REPORTER,
        ),
        _r(
            "dispatch",
            {S.REGISTERED},
            S.DISPATCHED,
            OPS,
            Who.CENTRE,
            _("Dispatch"),
            TARGET_GRID,
            TARGET_UNIT,
        ),
        _r("sign", {S.DISPATCHED}, S.IN_PROGRESS, HANDLERS, Who.ASSIGNEE, _("Sign for")),
        # 到场: the worker was there (with photos); a timeline row, no change of state.
        _r("visit", {S.IN_PROGRESS}, None, FIELD, Who.ASSIGNEE, _("Record a visit"), FOUND),
        _r(
            "return",
            {S.DISPATCHED, S.IN_PROGRESS},
            S.RETURNED,
            HANDLERS,
            Who.ASSIGNEE,
            _("Return"),
            REASON,
        ),
        _r(
            "redispatch",
            {S.RETURNED},
            S.DISPATCHED,
            LEADERS,
            Who.CENTRE,
            _("Dispatch again"),
            TARGET_GRID,
            TARGET_UNIT,
        ),
        _r(
            "reject_return",
            {S.RETURNED},
            S.DISPATCHED,
            LEADERS,
            Who.CENTRE,
            _("Refuse the return"),
            REASON,
        ),
        _r(
            "close_no_action",
            {S.RETURNED},
            S.CANCELLED,
            LEADERS,
            Who.CENTRE,
            _("Close without action"),
            REASON,
        ),
        _r(
            "request_extension",
            {S.DISPATCHED, S.IN_PROGRESS},
            None,
            HANDLERS,
            Who.ASSIGNEE,
            _("Ask for more time"),
            REASON,
            AMOUNT,
            UNIT,
        ),
        _r(
            "approve_extension",
            {S.DISPATCHED, S.IN_PROGRESS},
            None,
            LEADERS,
            Who.CENTRE,
            _("Approve the extension"),
        ),
        _r(
            "deny_extension",
            {S.DISPATCHED, S.IN_PROGRESS},
            None,
            LEADERS,
            Who.CENTRE,
            _("Deny the extension"),
            REASON,
        ),
        _r(
            "request_suspension",
            {S.IN_PROGRESS},
            None,
            HANDLERS,
            Who.ASSIGNEE,
            _("Ask to suspend"),
            REASON,
        ),
        _r(
            "approve_suspension",
            {S.IN_PROGRESS},
            S.SUSPENDED,
            LEADERS,
            Who.CENTRE,
            _("Approve the suspension"),
            keeps_clock=True,
        ),
        _r(
            "deny_suspension",
            {S.IN_PROGRESS},
            None,
            LEADERS,
            Who.CENTRE,
            _("Deny the suspension"),
            REASON,
        ),
        _r(
            "resume",
            {S.SUSPENDED},
            S.IN_PROGRESS,
            LEADERS | HANDLERS,
            Who.CENTRE_OR_ASSIGNEE,
            _("Resume"),
            keeps_clock=True,
        ),
        _r(
            "report_result",
            {S.IN_PROGRESS},
            S.AWAITING_CHECK,
            HANDLERS,
            Who.ASSIGNEE,
            _("Report the result"),
            NOTE_REQUIRED,
        ),
        _r(
            "verify_pass",
            {S.AWAITING_CHECK},
            S.CLOSED,
            VERIFIERS,
            Who.VERIFIER,
            _("Verify and close"),
        ),
        _r(
            "verify_fail",
            {S.AWAITING_CHECK},
            S.IN_PROGRESS,
            VERIFIERS,
            Who.VERIFIER,
            _("Send back for rework"),
            REASON,
        ),
        _r(
            "revisit", {S.CLOSED}, None, OPS, Who.CENTRE, _("Record the return visit"), SATISFACTION
        ),
        _r(
            "reopen",
            {S.CLOSED},
            S.IN_PROGRESS,
            OPS,
            Who.CENTRE,
            _("Reopen"),
            REASON,
            SATISFACTION_OPTIONAL,
        ),
        _r("archive", {S.CLOSED}, S.ARCHIVED, OPS, Who.CENTRE, _("Archive")),
        # The reporter rates the result (满意 / 基本满意 / 不满意), once; it reaches the centre.
        _r(
            "rate",
            {S.CLOSED, S.ARCHIVED},
            None,
            NOBODY,
            Who.REPORTER,
            _("Rate the result"),
            RATING,
            COMMENT,
            SECRET_OR,
            PHONE4,
            by=REPORTER,
        ),
        # What the public reads on the square map and the progress page.
        _r("reply", PUBLIC_STATES, None, OPS, Who.CENTRE, _("Write the public reply"), REPLY),
        _r("escalate", OPEN - {S.REPORTED}, None, OPS, Who.CENTRE, _("Escalate"), REASON),
        _r(
            "supervise",
            OPEN,
            None,
            OPS | {Role.LEADER},
            Who.SUPERVISOR,
            _("Supervise"),
            REASON,
            LEVEL,
        ),
        # The platform's own: the ticker's alarms and grid redraws.
        _r("warn", CLOCKED | {S.CLOSED}, None, NOBODY, Who.SYSTEM, _("Deadline near"), by=SYSTEM),
        _r("overdue", CLOCKED | {S.CLOSED}, None, NOBODY, Who.SYSTEM, _("Overdue"), by=SYSTEM),
        _r(
            "regrid", OPEN, None, NOBODY, Who.SYSTEM, _("Grid redrawn"), NEW_GRID, INSIDE, by=SYSTEM
        ),
    ]
}
# Actions people take through the generic action route (the reporter's cancel has its own).
PERSON_ACTIONS = tuple(sorted(a for a, r in RULES.items() if r.by == "user"))


def rule(action: str) -> Rule:
    try:
        return RULES[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None
