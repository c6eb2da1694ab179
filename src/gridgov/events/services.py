"""The do_* actions of the closed loop. Each is one compare-and-set update of the event, one
timeline row, one audit row and its outbox messages, in one transaction.

Every action goes through ``act``: look the event up through the caller's scope (foreign → 404),
check the rule table (wrong state → 409), authorise the relation (→ 403), apply the action's own
changes, then write with ``UPDATE … WHERE version = v`` so a concurrent action loses with 409.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from gridgov.accounts.models import Post
from gridgov.accounts.roles import allowed
from gridgov.accounts.scope import active_posts, restrict
from gridgov.core import audit
from gridgov.core.errors import Conflict, Forbidden, Invalid, NotFound
from gridgov.core.text import visible
from gridgov.core.workcal import UNITS
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from . import presenters, queries, routing, sla
from .models import Approval, Attachment, Category, Event, TimelineEntry
from .workflow import CLOCKED, FIELD, OPS, Rule, State, Who, next_level, rule

LEVEL_CODE_LENGTH = {"township": 9, "county": 6, "city": 4}
# Suspension pauses the handling clock and resuming continues it: no new step starts.
KEEPS_CLOCK = frozenset({"approve_suspension", "resume"})
SYSTEM = "system"


@dataclass
class Input:
    """What an action may carry; each action reads the fields it needs."""

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
    attachments: list[str] = field(default_factory=list)
    expected_version: int | None = None


@dataclass
class Ctx:
    event: Event
    user: Any
    post: Post | None
    now: datetime
    inp: Input
    rule: Rule
    data: dict[str, Any] = field(default_factory=dict)  # goes into the timeline row
    after: list[Callable[[], None]] = field(default_factory=list)  # more writes, same transaction


# ----------------------------------------------------------------------------- authorisation


def _covers(post: Post, code: str) -> bool:
    return code.startswith(post.scope_code)


def _centre_post(event: Event, posts: list[Post], roles: frozenset[str]) -> Post | None:
    need = LEVEL_CODE_LENGTH[event.handling_level]
    for p in posts:
        if p.role in roles and _covers(p, event.grid_code) and len(p.scope_code) <= need:
            return p
    return None


def _assignee_post(event: Event, posts: list[Post], roles: frozenset[str]) -> Post | None:
    for p in posts:
        if p.role not in roles and not (p.role in OPS and event.assignee_kind == "unit"):
            continue
        if event.assignee_kind == "grid" and p.role in FIELD and _covers(p, event.assignee_grid):
            return p
        if event.assignee_kind == "unit" and p.org_unit_id == event.assignee_unit_id:
            return p
    return None


def _verifier_post(
    event: Event, user: Any, posts: list[Post], roles: frozenset[str]
) -> Post | None:
    if event.handler_id is not None and event.handler_id == user.pk:
        raise Forbidden("the person who handled an event may not verify it", "user")
    for p in posts:
        if p.role in roles and _covers(p, event.grid_code):
            return p
    return None


def authorise(event: Event, r: Rule, user: Any) -> Post:
    posts = active_posts(user)
    if r.who is Who.CENTRE:
        post = _centre_post(event, posts, r.roles)
        if post is None and r.action == "resume":
            post = _assignee_post(event, posts, r.roles)
    elif r.who is Who.SUPERVISOR:
        post = next((p for p in posts if p.role in r.roles and _covers(p, event.grid_code)), None)
    elif r.who is Who.ASSIGNEE:
        post = _assignee_post(event, posts, r.roles)
    elif r.who is Who.VERIFIER:
        post = _verifier_post(event, user, posts, r.roles)
    else:
        post = None
    if post is None:
        raise Forbidden(f"you may not {r.action} this event")
    return post


# ----------------------------------------------------------------------------- the engine

_CHANGED_FIELDS_SKIP = {"id", "version", "updated_at"}


def _snapshot(event: Event) -> dict[str, Any]:
    return {f.attname: getattr(event, f.attname) for f in Event._meta.concrete_fields}


def _cas_write(event: Event, before: dict[str, Any], now: datetime) -> None:
    changes = {
        k: v
        for k, v in _snapshot(event).items()
        if k not in _CHANGED_FIELDS_SKIP and before[k] != v
    }
    updated = Event.objects.filter(pk=event.pk, version=before["version"]).update(
        **changes, version=before["version"] + 1, updated_at=now
    )
    if updated != 1:
        raise Conflict("the event was changed by someone else; reload and try again")
    event.version = before["version"] + 1


def timeline(
    event: Event,
    action: str,
    user: Any,
    post: Post | None,
    now: datetime,
    from_state: str,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        event=event,
        seq=event.version,
        at=now,
        actor=user if getattr(user, "pk", None) else None,
        actor_label=str(user) if getattr(user, "pk", None) else SYSTEM,
        post_id=post.pk if post else None,
        action=action,
        from_state=from_state,
        to_state=event.state,
        note=note,
        data=data or {},
    )


def act(event_id: Any, action: str, user: Any, inp: Input | None = None) -> Event:
    """Run one action on one event for ``user``; the only way an event changes after intake."""
    inp = inp or Input()
    r = rule(action)
    if r.needs_reason and not visible(inp.reason):
        raise Invalid({"reason": "a reason is required for this action"})
    with transaction.atomic():
        event = _load(event_id, user)
        if inp.expected_version is not None and inp.expected_version != event.version:
            raise Conflict("the event has changed since you loaded it")
        if State(event.state) not in r.sources:
            raise Conflict(f"cannot {action} an event that is {event.state}")
        post = authorise(event, r, user)
        ctx = Ctx(event, user, post, timezone.now(), inp, r)
        before = _snapshot(event)
        HANDLERS[action](ctx)
        if r.target is not None and r.target != event.state:
            event.state = r.target
            if action not in KEEPS_CLOCK:
                sla.start_step(event, r.target, ctx.now)
        _cas_write(event, before, ctx.now)
        entry = timeline(
            event, action, user, post, ctx.now, before["state"], inp.reason or inp.note, ctx.data
        )
        _attach(ctx, entry)
        for fn in ctx.after:
            fn()
        audit.record(
            f"event.{action}",
            actor=user,
            post_id=post.pk,
            obj=event,
            detail={"from": before["state"], "to": event.state, **ctx.data},
        )
    return event


def _load(event_id: Any, user: Any) -> Event:
    event = queries.event(user, event_id)
    if event is None:
        raise NotFound()
    return event


def _attach(ctx: Ctx, entry: TimelineEntry) -> None:
    if not ctx.inp.attachments:
        return
    ids = list(dict.fromkeys(ctx.inp.attachments))
    uploader = ctx.user if getattr(ctx.user, "pk", None) else None
    # Only the actor's own uploads: an attachment id seen elsewhere cannot be claimed.
    found = Attachment.objects.filter(pk__in=ids, event__isnull=True, uploaded_by=uploader)
    if found.count() != len(ids):
        raise Invalid({"attachments": "unknown or already used attachment ids"})
    found.update(event=ctx.event, timeline_entry=entry)


# ----------------------------------------------------------------------------- notifications


def _notify_assignee(ctx: Ctx, topic: str) -> None:
    e = ctx.event
    recipient = (
        f"grid:{e.assignee_grid}"
        if e.assignee_kind == "grid"
        else (f"unit:{e.assignee_unit.code}" if e.assignee_unit_id and e.assignee_unit else "")
    )
    if recipient:
        sla.notify(e, topic, recipient, key=f"{e.pk}:{e.version + 1}:{topic}")


def _notify_centre(ctx: Ctx, topic: str) -> None:
    e = ctx.event
    sla.notify(e, topic, f"unit:{e.receiving_centre.code}", key=f"{e.pk}:{e.version + 1}:{topic}")


def _notify_reporters(ctx: Ctx, topic: str) -> None:
    """The reporter and the reporters of every report merged into this one."""
    e = ctx.event
    ids = [e.pk, *e.merged_children.values_list("pk", flat=True)]
    for rid in ids:
        sla.notify(e, topic, f"reporter:{rid}", key=f"{e.pk}:{e.version + 1}:{topic}:{rid}")


# ----------------------------------------------------------------------------- action handlers


def _category(code: str) -> Category:
    cat = Category.objects.filter(code=code, active=True, parent__isnull=False).first()
    if cat is None:
        raise Invalid({"category": f"unknown category {code!r}"})
    return cat


def _classify(ctx: Ctx) -> None:
    e, inp = ctx.event, ctx.inp
    if inp.category:
        e.category = _category(inp.category)
    if inp.urgency:
        if inp.urgency not in Event.Urgency.values:
            raise Invalid({"urgency": "must be normal or urgent"})
        e.urgency = inp.urgency
    if e.category_id is None:
        raise Invalid({"category": "classify the event before registering it"})
    e.is_public = bool(e.category and e.category.public and not e.category.sensitive)


def on_accept(ctx: Ctx) -> None:
    _classify(ctx)
    ctx.event.registered_at = ctx.now
    ctx.after.append(lambda: _notify_reporters(ctx, "reporter.registered"))


def on_send_to_verify(ctx: Ctx) -> None:
    e = ctx.event
    sla.notify(e, "event.verify", f"grid:{e.grid_code}", key=f"{e.pk}:{e.version + 1}:verify")


def on_confirm(ctx: Ctx) -> None:
    _classify(ctx)
    ctx.event.registered_at = ctx.now


def on_terminal(ctx: Ctx) -> None:
    ctx.event.alarm_at = None
    ctx.after.append(lambda: _notify_reporters(ctx, f"reporter.{ctx.rule.action}"))


def on_merge(ctx: Ctx) -> None:
    e, code = ctx.event, ctx.inp.parent
    if not code:
        raise Invalid({"parent": "name the event to merge into"})
    parent = restrict(Event.objects.all(), ctx.user, "view").filter(code=code).first()
    if parent is None:
        raise Invalid({"parent": f"no event {code} in your scope"})
    if parent.pk == e.pk or parent.state not in {s.value for s in CLOCKED | {State.SUSPENDED}}:
        raise Invalid({"parent": "merge into another open event"})
    e.parent = parent
    e.alarm_at = None
    ctx.data["parent"] = parent.code

    def bump_parent() -> None:
        # Reporters of the merged event follow the parent; count the case once.
        Event.objects.filter(pk=parent.pk).update(merged_count=models.F("merged_count") + 1)
        Event.objects.filter(parent=e).update(parent=parent)

    ctx.after.append(bump_parent)


def _target(ctx: Ctx) -> None:
    """Set the assignee from the input, or from the category's default route."""
    e, inp = ctx.event, ctx.inp
    if inp.target_grid:
        # A centre sends work only inside the area it runs: a township centre to its own
        # township's grids, a county centre within the county (the event's handling level).
        area = e.grid_code[: LEVEL_CODE_LENGTH[e.handling_level]]
        grid = Grid.objects.filter(code=inp.target_grid, effective_to__isnull=True).first()
        if grid is None or not grid.code.startswith(area):
            raise Invalid({"target_grid": f"no such grid in the area this centre runs ({area})"})
        e.assignee_kind, e.assignee_grid, e.assignee_unit = "grid", grid.code, None
    elif inp.target_unit:
        unit = OrgUnit.objects.filter(code=inp.target_unit, active=True).first()
        if unit is None or not _may_receive(unit, e):
            raise Invalid({"target_unit": "no department serving the event's location"})
        e.assignee_kind, e.assignee_unit, e.assignee_grid = "unit", unit, ""
    else:
        assert e.category is not None
        township = OrgUnit.objects.get(code=f"C{e.grid_code[:9]}")
        kind, default_unit, grid_code = routing.default_handler(e.category, e.grid_code, township)
        e.assignee_kind, e.assignee_unit, e.assignee_grid = kind, default_unit, grid_code
    e.handler = None
    ctx.data["assignee"] = e.assignee_grid or (e.assignee_unit.code if e.assignee_unit else "")


def _may_receive(unit: OrgUnit, e: Event) -> bool:
    """Work goes to a department whose area covers the event, or to the event's own township
    centre (属地兜底). A higher centre takes it only by escalation, which needs a reason."""
    if unit.kind == OrgUnit.Kind.DEPARTMENT:
        return e.grid_code.startswith(unit.region_id)
    return unit.kind == OrgUnit.Kind.CENTRE and unit.region_id == e.grid_code[:9]


def on_dispatch(ctx: Ctx) -> None:
    _target(ctx)
    ctx.event.dispatched_at = ctx.now
    ctx.after.append(lambda: _notify_assignee(ctx, "event.dispatched"))


def on_sign(ctx: Ctx) -> None:
    ctx.event.handler = ctx.user
    ctx.event.signed_at = ctx.now


def on_return(ctx: Ctx) -> None:
    ctx.event.return_count += 1
    ctx.after.append(lambda: _notify_centre(ctx, "event.returned"))


def on_reject_return(ctx: Ctx) -> None:
    ctx.after.append(lambda: _notify_assignee(ctx, "event.return_rejected"))


def _amount(ctx: Ctx) -> tuple[Decimal, str]:
    inp = ctx.inp
    try:
        amount = Decimal(str(inp.amount))
    except (InvalidOperation, ValueError):
        raise Invalid({"amount": "a positive number is required"}) from None
    if not amount.is_finite() or amount <= 0 or amount > 1000:
        raise Invalid({"amount": "a positive number up to 1000 is required"})
    if inp.unit not in UNITS:
        raise Invalid({"unit": f"one of {', '.join(UNITS)}"})
    return amount, inp.unit


def _request(kind: str) -> Callable[[Ctx], None]:
    def handler(ctx: Ctx) -> None:
        amount, unit = _amount(ctx) if kind == Approval.Kind.EXTENSION else (None, "")
        e = ctx.event

        def create() -> None:
            try:
                with transaction.atomic():
                    Approval.objects.create(
                        event=e,
                        kind=kind,
                        reason=ctx.inp.reason,
                        amount=amount,
                        unit=unit,
                        requested_by=ctx.user,
                        requested_at=ctx.now,
                    )
            except IntegrityError:
                raise Conflict(f"a {kind} request is already pending") from None
            _notify_centre(ctx, f"event.{kind}_requested")

        ctx.data.update({"amount": str(amount) if amount else None, "unit": unit})
        ctx.after.append(create)

    return handler


def _pending(ctx: Ctx, kind: str) -> Approval:
    approval = ctx.event.approvals.filter(kind=kind, status=Approval.Status.PENDING).first()
    if approval is None:
        raise Conflict(f"no {kind} request is pending")
    return approval


def _decide(kind: str, approve: bool) -> Callable[[Ctx], None]:
    def handler(ctx: Ctx) -> None:
        approval = _pending(ctx, kind)
        e = ctx.event
        if approve and kind == Approval.Kind.EXTENSION:
            assert approval.amount is not None
            sla.extend(e, approval.amount, approval.unit)
            e.extension_count += 1
        if approve and kind == Approval.Kind.SUSPENSION:
            sla.pause(e, ctx.now)
        status = Approval.Status.APPROVED if approve else Approval.Status.DENIED

        def decide() -> None:
            n = Approval.objects.filter(pk=approval.pk, status=Approval.Status.PENDING).update(
                status=status, decided_by=ctx.user, decided_at=ctx.now
            )
            if n != 1:
                raise Conflict("the request was decided by someone else")
            _notify_assignee(ctx, f"event.{kind}_{status}")

        ctx.data["approval"] = approval.pk
        ctx.after.append(decide)

    return handler


def on_resume(ctx: Ctx) -> None:
    sla.resume(ctx.event, ctx.now)


def on_report_result(ctx: Ctx) -> None:
    e = ctx.event
    e.handler = ctx.user
    e.result_at = ctx.now
    e.closed_on_time = e.due_at is None or ctx.now <= e.due_at
    if not visible(ctx.inp.note):
        raise Invalid({"note": "describe what was done"})


def on_verify_pass(ctx: Ctx) -> None:
    ctx.event.closed_at = ctx.now
    ctx.after.append(lambda: _notify_reporters(ctx, "reporter.closed"))


def on_verify_fail(ctx: Ctx) -> None:
    ctx.event.rework_count += 1
    ctx.event.closed_on_time = None
    ctx.after.append(lambda: _notify_assignee(ctx, "event.rework"))


def on_revisit(ctx: Ctx) -> None:
    sat = ctx.inp.satisfaction
    if sat is None or not 1 <= sat <= 5:
        raise Invalid({"satisfaction": "1 (very dissatisfied) to 5 (very satisfied)"})
    e = ctx.event
    e.satisfaction, e.revisited_at = sat, ctx.now
    e.alarm_at = None
    ctx.data["satisfaction"] = sat


def on_reopen(ctx: Ctx) -> None:
    e = ctx.event
    if ctx.inp.satisfaction is not None:
        e.satisfaction = ctx.inp.satisfaction
    e.rework_count += 1
    e.closed_at = None
    e.closed_on_time = None
    ctx.after.append(lambda: _notify_assignee(ctx, "event.reopened"))


def on_archive(ctx: Ctx) -> None:
    ctx.event.archived_at = ctx.now
    ctx.event.alarm_at = None


def _raise_level(event: Event) -> str:
    level = next_level(event.handling_level)
    if level is None:
        raise Conflict("the event is already handled at city level")
    code = event.grid_code[: LEVEL_CODE_LENGTH[level]]
    centre = OrgUnit.objects.filter(kind=OrgUnit.Kind.CENTRE, region_id=code, active=True).first()
    if centre is None:
        raise Conflict(f"no {level} centre serves this event")
    event.handling_level, event.receiving_centre = level, centre
    return level


def on_escalate(ctx: Ctx) -> None:
    ctx.data["level"] = _raise_level(ctx.event)
    ctx.after.append(lambda: _notify_centre(ctx, "event.escalated"))


def on_supervise(ctx: Ctx) -> None:
    level = ctx.inp.level or "yellow"
    if level not in ("yellow", "red"):
        raise Invalid({"level": "yellow or red"})
    ctx.event.supervision = level
    ctx.data["level"] = level
    ctx.after.append(lambda: _notify_assignee(ctx, "event.supervised"))


HANDLERS: dict[str, Callable[[Ctx], None]] = {
    "accept": on_accept,
    "send_to_verify": on_send_to_verify,
    "confirm": on_confirm,
    "refute": on_terminal,
    "reject": on_terminal,
    "merge": on_merge,
    "cancel": on_terminal,
    "dispatch": on_dispatch,
    "sign": on_sign,
    "return": on_return,
    "redispatch": on_dispatch,
    "reject_return": on_reject_return,
    "close_no_action": on_terminal,
    "request_extension": _request(Approval.Kind.EXTENSION),
    "approve_extension": _decide(Approval.Kind.EXTENSION, True),
    "deny_extension": _decide(Approval.Kind.EXTENSION, False),
    "request_suspension": _request(Approval.Kind.SUSPENSION),
    "approve_suspension": _decide(Approval.Kind.SUSPENSION, True),
    "deny_suspension": _decide(Approval.Kind.SUSPENSION, False),
    "resume": on_resume,
    "report_result": on_report_result,
    "verify_pass": on_verify_pass,
    "verify_fail": on_verify_fail,
    "revisit": on_revisit,
    "reopen": on_reopen,
    "archive": on_archive,
    "escalate": on_escalate,
    "supervise": on_supervise,
}


# ----------------------------------------------------------------------------- reporter cancel


def do_cancel_by_reporter(code: str, secret: str) -> Event:
    """The citizen withdraws a report not yet registered; the secret came with the receipt.
    A wrong secret answers exactly like an unknown case number."""
    from .intake import secret_hash

    with transaction.atomic():
        event = Event.objects.filter(code=code).first()
        given = secret_hash(secret or "")
        if event is None or not hmac.compare_digest(event.reporter_secret_hash, given):
            raise NotFound()
        r = rule("cancel")
        if State(event.state) not in r.sources:
            raise Conflict(f"cannot cancel an event that is {event.state}")
        before = _snapshot(event)
        now = timezone.now()
        event.state = State.CANCELLED
        sla.start_step(event, State.CANCELLED, now)
        _cas_write(event, before, now)
        timeline(event, "cancel", None, None, now, before["state"], "reporter withdrew the report")
        audit.record("event.cancel", obj=event, detail={"by": "reporter"})
    return event


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


def _unmask_post(user: Any, event: Event) -> int | None:
    for p in active_posts(user):
        if allowed("event", p.role, "unmask") and event.grid_code.startswith(p.scope_code):
            return int(p.pk)
    return None


# ----------------------------------------------------------------------------- ticker actions


def _system_write(
    event: Event, before: dict[str, Any], now: datetime, action: str, data: dict[str, Any]
) -> None:
    _cas_write(event, before, now)
    timeline(event, action, None, None, now, before["state"], "", data)
    audit.record(f"event.{action}", obj=event, detail=data)


def warn_at_risk(event: Event, now: datetime) -> int:
    """Yellow supervision: the step is about to run out. Runs inside the ticker's transaction."""
    before = _snapshot(event)
    event.supervision = Event.Supervision.YELLOW
    event.alarm_at = event.due_at
    try:
        _system_write(
            event,
            before,
            now,
            "warn",
            {"step": event.step, "due_at": event.due_at.isoformat() if event.due_at else None},
        )
    except Conflict:
        return 0
    _remind(event, "event.due_soon")
    return 1


def escalate_overdue(event: Event, now: datetime) -> int:
    """Red supervision and escalation to the next centre level: the step has run out."""
    before = _snapshot(event)
    event.supervision = Event.Supervision.RED
    event.overdue_count += 1
    event.alarm_at = None
    data: dict[str, Any] = {"step": event.step}
    if event.state != State.CLOSED:
        try:
            data["level"] = _raise_level(event)
        except Conflict:
            data["level"] = event.handling_level
    try:
        _system_write(event, before, now, "overdue", data)
    except Conflict:
        return 0
    _remind(event, "event.overdue")
    sla.notify(
        event,
        "event.overdue",
        f"unit:{event.receiving_centre.code}",
        key=f"{event.pk}:{event.version}:overdue:centre",
    )
    return 1


def _remind(event: Event, topic: str) -> None:
    if event.assignee_kind == "grid":
        recipient = f"grid:{event.assignee_grid}"
    elif event.assignee_unit_id:
        recipient = f"unit:{OrgUnit.objects.get(pk=event.assignee_unit_id).code}"
    else:
        recipient = f"unit:{event.receiving_centre.code}"
    sla.notify(event, topic, recipient, key=f"{event.pk}:{event.version}:{topic}")
