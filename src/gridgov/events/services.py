"""The closed loop's actions: the events flow for the workflow engine (core/flow.py), the typed
``do_*`` entry points code calls, and ``act`` for the API's generic action route.

Every change of an event after intake runs through the engine: scoped load (foreign → 404),
rule table (wrong state → 409), relation (→ 403), the action's handler, then one
``UPDATE … WHERE version = v`` (a concurrent action loses with 409), a timeline row, outbox
messages and an audit row, in one transaction.
"""

from __future__ import annotations

import contextvars
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from gridgov.accounts.roles import allowed
from gridgov.accounts.scope import active_posts
from gridgov.core import audit, codes, flow, idempotency
from gridgov.core.errors import Forbidden, Invalid, NotFound
from gridgov.core.text import visible

from . import handlers, presenters, queries, sla, square
from .models import Approval, Event, TimelineEntry
from .relations import RELATIONS
from .states import State
from .workflow import RULES


def _on_enter(ctx: flow.Ctx[Event], state: str) -> None:
    sla.start_step(ctx.obj, State(state), ctx.now)


def _after_timeline(ctx: flow.Ctx[Event]) -> None:
    handlers.attach(ctx)
    square.follow(ctx.before, ctx.obj)  # the square map's counters, in the same transaction


# While the actions on offer are listed (a read), the event's pending requests are read once,
# when a guard first asks, for all the guards that ask (six on an event page); an action's own
# check reads afresh.
_listing: contextvars.ContextVar[dict[Any, frozenset[str]] | None] = contextvars.ContextVar(
    "pending_while_listing", default=None
)


def _is_pending(event: Event, kind: str) -> bool:
    known = _listing.get()
    if known is None:
        return event.approvals.filter(kind=kind, status=Approval.Status.PENDING).exists()
    if event.pk not in known:
        pending = event.approvals.filter(status=Approval.Status.PENDING)
        known[event.pk] = frozenset(pending.values_list("kind", flat=True))
    return kind in known[event.pk]


def _pending(kind: str) -> Any:
    """A decision needs a request to decide."""

    def guard(event: Event) -> str | None:
        return None if _is_pending(event, kind) else f"no {kind} request is pending"

    return guard


def _none_pending(kind: str) -> Any:
    """One request of a kind at a time."""

    def guard(event: Event) -> str | None:
        return f"a {kind} request is already pending" if _is_pending(event, kind) else None

    return guard


EVENTS: flow.Flow[Event] = flow.Flow(
    name="event",
    model=Event,
    timeline=TimelineEntry,
    subject="event",
    rules=RULES,
    relations=RELATIONS,
    handlers=handlers.HANDLERS,
    load=lambda key, user, action: queries.event(user, key, action),
    load_any=lambda key: queries.event_any(key),
    visible=lambda event, user, action: queries.in_scope(user, event, action),
    guards={
        "request_extension": _none_pending(Approval.Kind.EXTENSION),
        "request_suspension": _none_pending(Approval.Kind.SUSPENSION),
        "approve_extension": _pending(Approval.Kind.EXTENSION),
        "deny_extension": _pending(Approval.Kind.EXTENSION),
        "approve_suspension": _pending(Approval.Kind.SUSPENSION),
        "deny_suspension": _pending(Approval.Kind.SUSPENSION),
    },
    on_enter=_on_enter,
    after_timeline=_after_timeline,
)


@dataclass
class Input:
    """What an action may carry (for code callers and tests); each action takes its own."""

    note: str = ""
    reason: str = ""
    category: str | None = None
    urgency: str | None = None
    target_grid: str | None = None
    target_unit: str | None = None
    parent: str | None = None
    amount: Decimal | float | None = None
    unit: str | None = None
    satisfaction: int | None = None
    level: str | None = None
    reply: str = ""
    attachments: list[str] = field(default_factory=list)
    expected_version: int | None = None


def act(event_id: Any, action: str, user: Any, inp: Input | dict[str, Any] | None = None) -> Event:
    """Run one action on one event for ``user``: the generic route (the API's action route)."""
    inputs = asdict(inp) if isinstance(inp, Input) else dict(inp or {})
    if action not in RULES or RULES[action].by != flow.USER:
        raise Invalid({"action": f"unknown action {action!r}"})
    return flow.run(EVENTS, event_id, action, user, inputs).obj


def act_once(
    event_id: Any, action: str, user: Any, inputs: dict[str, Any], key: str, answer: Any
) -> flow.Result[Event]:
    """``act`` under an idempotency key: applied once; a replay by the same caller answers what
    the first answered and writes nothing (the app replays actions queued offline)."""
    if action not in RULES or RULES[action].by != flow.USER:
        raise Invalid({"action": f"unknown action {action!r}"})
    return flow.run(
        EVENTS,
        event_id,
        action,
        user,
        inputs,
        idempotency_key=key,
        owner=idempotency.owner_of(user),
        answer=answer,
    )


def is_action(action: str) -> bool:
    """Whether ``action`` is one people take (a rule of the table, not the reporter's or the
    platform's own)."""
    return action in RULES and RULES[action].by == flow.USER


def already_applied(action: str, user: Any, key: str) -> bool:
    """Whether ``user`` already took ``action`` under the idempotency ``key`` (a form sent
    twice: the second finds the action no longer offered, and is a replay, not a conflict)."""
    return bool(key) and idempotency.used(
        idempotency.owner_of(user), f"{EVENTS.name}.{action}", key[:80]
    )


def allowed_actions(event: Event, user: Any, with_choices: bool = True) -> list[dict[str, Any]]:
    """What ``user`` may do to ``event`` now, with each action's inputs and labels."""
    token = _listing.set({})
    try:
        return flow.allowed(EVENTS, event, user, with_choices)
    finally:
        _listing.reset(token)


# ----------------------------------------------------------------------------- typed entries


def _do(action: str, event: Any, actor: Any, **inputs: Any) -> Event:
    return flow.run(EVENTS, event, action, actor, inputs).obj


def do_accept(
    event: Any, *, actor: Any, category: str | None = None, urgency: str | None = None
) -> Event:
    return _do("accept", event, actor, category=category, urgency=urgency)


def do_send_to_verify(event: Any, *, actor: Any) -> Event:
    return _do("send_to_verify", event, actor)


def do_confirm(
    event: Any, *, actor: Any, category: str | None = None, urgency: str | None = None
) -> Event:
    return _do("confirm", event, actor, category=category, urgency=urgency)


def do_refute(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("refute", event, actor, reason=reason)


def do_reject(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("reject", event, actor, reason=reason)


def do_merge(event: Any, *, actor: Any, parent: str) -> Event:
    return _do("merge", event, actor, parent=parent)


def do_dispatch(
    event: Any, *, actor: Any, target_grid: str | None = None, target_unit: str | None = None
) -> Event:
    return _do("dispatch", event, actor, target_grid=target_grid, target_unit=target_unit)


def do_redispatch(
    event: Any, *, actor: Any, target_grid: str | None = None, target_unit: str | None = None
) -> Event:
    return _do("redispatch", event, actor, target_grid=target_grid, target_unit=target_unit)


def do_sign(event: Any, *, actor: Any) -> Event:
    return _do("sign", event, actor)


def do_visit(event: Any, *, actor: Any, note: str, attachments: list[str] = ()) -> Event:  # type: ignore[assignment]
    return _do("visit", event, actor, note=note, attachments=list(attachments))


def do_return(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("return", event, actor, reason=reason)


def do_reject_return(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("reject_return", event, actor, reason=reason)


def do_close_no_action(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("close_no_action", event, actor, reason=reason)


def do_request_extension(
    event: Any, *, actor: Any, reason: str, amount: Decimal | float, unit: str
) -> Event:
    return _do("request_extension", event, actor, reason=reason, amount=amount, unit=unit)


def do_approve_extension(event: Any, *, actor: Any) -> Event:
    return _do("approve_extension", event, actor)


def do_deny_extension(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("deny_extension", event, actor, reason=reason)


def do_request_suspension(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("request_suspension", event, actor, reason=reason)


def do_approve_suspension(event: Any, *, actor: Any) -> Event:
    return _do("approve_suspension", event, actor)


def do_deny_suspension(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("deny_suspension", event, actor, reason=reason)


def do_resume(event: Any, *, actor: Any) -> Event:
    return _do("resume", event, actor)


def do_report_result(event: Any, *, actor: Any, note: str, attachments: list[str] = ()) -> Event:  # type: ignore[assignment]
    return _do("report_result", event, actor, note=note, attachments=list(attachments))


def do_verify_pass(event: Any, *, actor: Any) -> Event:
    return _do("verify_pass", event, actor)


def do_verify_fail(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("verify_fail", event, actor, reason=reason)


def do_revisit(event: Any, *, actor: Any, satisfaction: int) -> Event:
    return _do("revisit", event, actor, satisfaction=satisfaction)


def do_reopen(event: Any, *, actor: Any, reason: str, satisfaction: int | None = None) -> Event:
    return _do("reopen", event, actor, reason=reason, satisfaction=satisfaction)


def do_archive(event: Any, *, actor: Any) -> Event:
    return _do("archive", event, actor)


def do_escalate(event: Any, *, actor: Any, reason: str) -> Event:
    return _do("escalate", event, actor, reason=reason)


def do_supervise(event: Any, *, actor: Any, reason: str, level: str = "remind") -> Event:
    return _do("supervise", event, actor, reason=reason, level=level)


# ----------------------------------------------------------------------------- reporter, system


def do_cancel_by_reporter(code: str, secret: str) -> Event:
    """The citizen withdraws a report not yet registered; the secret came with the receipt.
    A wrong secret answers exactly like an unknown case number."""
    return flow.run(EVENTS, code, "cancel", None, {"reporter_secret": secret or ""}).obj


def do_rate(
    code: str, rating: str, comment: str = "", *, secret: str = "", phone_last4: str = ""
) -> Event:
    """The reporter rates the result once it is closed (满意 / 基本满意 / 不满意)."""
    inputs = {
        "rating": rating,
        "comment": comment,
        "reporter_secret": secret,
        "phone_last4": phone_last4,
    }
    return flow.run(EVENTS, code, "rate", None, inputs).obj


def do_reply(event: Any, *, actor: Any, reply: str) -> Event:
    return _do("reply", event, actor, reply=reply)


def do_warn(event: Event) -> Event:
    """The ticker: the step's deadline is near (yellow)."""
    return flow.run(EVENTS, event, "warn", system=True).obj


def do_overdue(event: Event) -> Event:
    """The ticker: the step's deadline has passed (red, escalated a level)."""
    return flow.run(EVENTS, event, "overdue", system=True).obj


def do_ticker_batch(events: list[Event], action: str) -> list[Event]:
    """The ticker: ``warn`` or ``overdue`` on many events it read and locked in its open
    transaction, through the engine's batch path (one statement per event, rows in bulk)."""
    if action not in ("warn", "overdue"):
        raise ValueError(action)
    return flow.run_system_batch(EVENTS, events, action)


def do_regrid(event: Event, grid_code: str, inside: bool) -> Event:
    """Grids were redrawn: the open event follows the grid its point now lies in."""
    return flow.run(
        EVENTS, event, "regrid", inputs={"grid": grid_code, "inside": inside}, system=True
    ).obj


# ----------------------------------------------------------------------------- personal data


def do_unmask_reporter(event_id: Any, user: Any, reason: str) -> dict[str, str]:
    """Show who reported: needs the unmask permission on the event and a reason, and leaves an
    audit row in the same transaction as the read."""
    reason = (reason or "").strip()
    if len(visible(reason)) < 2:
        raise Invalid({"reason": "say why you need the reporter's identity"})
    if queries.event(user, event_id, "view") is None:
        raise NotFound()
    with transaction.atomic():
        event = queries.event(user, event_id, "unmask")
        if event is None:
            raise Forbidden("you may not see who reported this event")
        audit.record(
            "event.unmask_reporter",
            actor=user,
            post_id=_unmask_post(user, event),
            obj=event,
            detail={"reason": reason[:200]},
        )
        return presenters.reporter_unmasked(event)


def may_unmask(event: Event, user: Any) -> bool:
    """Whether ``user`` may see who reported ``event`` (with a reason; see do_unmask_reporter)."""
    return queries.in_scope(user, event, "unmask")


def _unmask_post(user: Any, event: Event) -> int | None:
    for p in active_posts(user):
        if allowed("event", p.role, "unmask") and codes.covers(p.scope_code, event.grid_code):
            return int(p.pk)
    return None
