"""What each action of the closed loop does to an event besides its state: the handlers the
engine calls (core/flow.py), and the notifications they queue."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, models, transaction

from gridgov.accounts.roles import Role
from gridgov.core import codes, refcache
from gridgov.core.errors import Conflict, Invalid
from gridgov.core.flow import Ctx
from gridgov.core.scope import restrict
from gridgov.core.text import visible
from gridgov.core.workcal import UNITS
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from . import choices, routing, sla
from .models import Approval, Attachment, Category, Event, Urge
from .states import CLOCKED, State

# ----------------------------------------------------------------------------- notifications


def _notify_assignee(ctx: Ctx, topic: str) -> None:
    e = ctx.obj
    recipient = (
        f"grid:{e.assignee_grid}"
        if e.assignee_kind == "grid"
        else (f"unit:{e.assignee_unit.code}" if e.assignee_unit_id and e.assignee_unit else "")
    )
    if recipient:
        sla.notify(e, topic, recipient, key=f"{e.pk}:{e.version + 1}:{topic}")


def _notify_centre(ctx: Ctx, topic: str) -> None:
    e = ctx.obj
    sla.notify(e, topic, f"unit:{e.receiving_centre.code}", key=f"{e.pk}:{e.version + 1}:{topic}")


def _notify_reporters(ctx: Ctx, topic: str) -> None:
    """The reporter and the reporters of every report merged into this one."""
    e = ctx.obj
    # unordered: the events' default order would walk the reported_at index of the whole
    # table on SQLite (parent_id is empty on almost every row)
    merged = e.merged_children.order_by().values_list("pk", "channel")
    rows = [(e.pk, e.channel), *merged]
    for rid, channel in rows:
        key = f"{e.pk}:{e.version + 1}:{topic}:{rid}"
        sla.notify(e, topic, f"reporter:{rid}", key=key)
        if channel == Event.Channel.WECHAT:  # and to the reporter's WeChat, by the outbox
            sla.notify(e, topic, f"reporter:{rid}", key=f"{key}:wechat", channel="wechat")


# ----------------------------------------------------------------------------- action handlers


def _category(code: str) -> Category:
    cat = Category.objects.filter(code=code, active=True, parent__isnull=False).first()
    if cat is None:
        raise Invalid({"category": f"unknown category {code!r}"})
    return cat


def _classify(ctx: Ctx[Event]) -> None:
    e, inp = ctx.obj, ctx.inputs
    if inp.get("category"):
        e.category = _category(str(inp["category"]))
    if inp.get("urgency"):
        if inp["urgency"] not in Event.Urgency.values:
            raise Invalid({"urgency": "must be normal or urgent"})
        e.urgency = str(inp["urgency"])
    if e.category_id is None:
        raise Invalid({"category": "classify the event before registering it"})
    e.is_public = bool(e.category and e.category.public and not e.category.sensitive)


def on_accept(ctx: Ctx[Event]) -> None:
    _classify(ctx)
    ctx.obj.registered_at = ctx.now
    ctx.after.append(lambda: _notify_reporters(ctx, "reporter.registered"))


def on_send_to_verify(ctx: Ctx[Event]) -> None:
    e = ctx.obj
    sla.notify(e, "event.verify", f"grid:{e.grid_code}", key=f"{e.pk}:{e.version + 1}:verify")


def on_confirm(ctx: Ctx[Event]) -> None:
    _classify(ctx)
    ctx.obj.registered_at = ctx.now


def on_terminal(ctx: Ctx[Event]) -> None:
    ctx.obj.alarm_at = None
    ctx.after.append(lambda: _notify_reporters(ctx, f"reporter.{ctx.rule.action}"))


def on_merge(ctx: Ctx[Event]) -> None:
    e, code = ctx.obj, ctx.inputs.get("parent")
    if not code:
        raise Invalid({"parent": "name the event to merge into"})
    parent = restrict(Event.objects.all(), ctx.actor, "view").filter(code=code).first()
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


def _target(ctx: Ctx[Event]) -> None:
    """Set the assignee from the input, or from the category's default route."""
    e, inp = ctx.obj, ctx.inputs
    if inp.get("target_grid") and inp.get("target_unit"):
        message = "send the event to a grid or to a unit, not both"
        raise Invalid({"target_grid": message, "target_unit": message})
    if inp.get("target_grid"):
        # A centre sends work only inside the area it runs: a township centre to its own
        # township's grids, a county centre within the county (the event's handling level).
        area = choices.dispatch_area(e)
        grid = Grid.objects.filter(code=inp.get("target_grid"), effective_to__isnull=True).first()
        if grid is None or not codes.covers(area, grid.code):
            raise Invalid({"target_grid": f"no such grid in the area this centre runs ({area})"})
        e.assignee_kind, e.assignee_grid, e.assignee_unit = "grid", grid.code, None
    elif inp.get("target_unit"):
        unit = OrgUnit.objects.filter(code=inp.get("target_unit"), active=True).first()
        if unit is None or not choices.may_receive(unit, e):
            raise Invalid({"target_unit": "no department serving the event's location"})
        e.assignee_kind, e.assignee_unit, e.assignee_grid = "unit", unit, ""
    else:
        assert e.category is not None
        township = routing.township_centre(e.grid_code)
        kind, default_unit, grid_code = routing.default_handler(e.category, e.grid_code, township)
        e.assignee_kind, e.assignee_unit, e.assignee_grid = kind, default_unit, grid_code
    e.handler = None
    ctx.data["assignee"] = e.assignee_grid or (e.assignee_unit.code if e.assignee_unit else "")


def on_dispatch(ctx: Ctx[Event]) -> None:
    _target(ctx)
    ctx.obj.dispatched_at = ctx.now
    ctx.after.append(lambda: _notify_assignee(ctx, "event.dispatched"))


def on_sign(ctx: Ctx[Event]) -> None:
    ctx.obj.handler = ctx.actor
    ctx.obj.signed_at = ctx.now


def on_return(ctx: Ctx[Event]) -> None:
    ctx.obj.return_count += 1
    ctx.after.append(lambda: _notify_centre(ctx, "event.returned"))


def on_reject_return(ctx: Ctx[Event]) -> None:
    ctx.after.append(lambda: _notify_assignee(ctx, "event.return_rejected"))


def _amount(ctx: Ctx[Event]) -> tuple[Decimal, str]:
    inp = ctx.inputs
    try:
        amount = Decimal(str(inp.get("amount")))
    except (InvalidOperation, ValueError):
        raise Invalid({"amount": "a positive number is required"}) from None
    if not amount.is_finite() or amount <= 0 or amount > 1000:
        raise Invalid({"amount": "a positive number up to 1000 is required"})
    if inp.get("unit") not in UNITS:
        raise Invalid({"unit": f"one of {', '.join(UNITS)}"})
    return amount, str(inp["unit"])


def _request(kind: str) -> Callable[[Ctx[Event]], None]:
    def handler(ctx: Ctx[Event]) -> None:
        amount, unit = _amount(ctx) if kind == Approval.Kind.EXTENSION else (None, "")
        e = ctx.obj

        def create() -> None:
            try:
                with transaction.atomic():
                    Approval.objects.create(
                        event=e,
                        kind=kind,
                        reason=str(ctx.inputs.get("reason") or ""),
                        amount=amount,
                        unit=unit,
                        requested_by=ctx.actor,
                        requested_at=ctx.now,
                    )
            except IntegrityError:
                raise Conflict(f"a {kind} request is already pending") from None
            _notify_centre(ctx, f"event.{kind}_requested")

        ctx.data.update({"amount": str(amount) if amount else None, "unit": unit})
        ctx.after.append(create)

    return handler


def _pending(ctx: Ctx, kind: str) -> Approval:
    approval = ctx.obj.approvals.filter(kind=kind, status=Approval.Status.PENDING).first()
    if approval is None:
        raise Conflict(f"no {kind} request is pending")
    return approval


def _decide(kind: str, approve: bool) -> Callable[[Ctx[Event]], None]:
    def handler(ctx: Ctx[Event]) -> None:
        approval = _pending(ctx, kind)
        e = ctx.obj
        if approve and kind == Approval.Kind.EXTENSION:
            assert approval.amount is not None
            sla.extend(e, approval.amount, approval.unit)
            e.extension_count += 1
        if approve and kind == Approval.Kind.SUSPENSION:
            sla.pause(e, ctx.now)
        status = Approval.Status.APPROVED if approve else Approval.Status.DENIED

        def decide() -> None:
            n = Approval.objects.filter(pk=approval.pk, status=Approval.Status.PENDING).update(
                status=status, decided_by=ctx.actor, decided_at=ctx.now
            )
            if n != 1:
                raise Conflict("the request was decided by someone else")
            _notify_assignee(ctx, f"event.{kind}_{status}")

        ctx.data["approval"] = approval.pk
        ctx.after.append(decide)

    return handler


def on_resume(ctx: Ctx[Event]) -> None:
    sla.resume(ctx.obj, ctx.now)


def on_visit(ctx: Ctx[Event]) -> None:
    if not visible(str(ctx.inputs.get("note") or "")):
        raise Invalid({"note": "describe what you found"})


def on_report_result(ctx: Ctx[Event]) -> None:
    e = ctx.obj
    e.handler = ctx.actor
    e.result_at = ctx.now
    e.closed_on_time = e.due_at is None or ctx.now <= e.due_at
    if not visible(str(ctx.inputs.get("note") or "")):
        raise Invalid({"note": "describe what was done"})


def on_verify_pass(ctx: Ctx[Event]) -> None:
    ctx.obj.closed_at = ctx.now
    ctx.after.append(lambda: _notify_reporters(ctx, "reporter.closed"))


def on_verify_fail(ctx: Ctx[Event]) -> None:
    ctx.obj.rework_count += 1
    ctx.obj.closed_on_time = None
    ctx.after.append(lambda: _notify_assignee(ctx, "event.rework"))


def _satisfaction(ctx: Ctx[Event]) -> int | None:
    """1 to 5, given as a number or as the digit a form sends."""
    given = ctx.inputs.get("satisfaction")
    if given is None:
        return None
    try:
        sat = int(given)
    except (TypeError, ValueError):
        sat = 0
    if isinstance(given, bool) or not 1 <= sat <= 5:
        raise Invalid({"satisfaction": "1 (very dissatisfied) to 5 (very satisfied)"})
    return sat


def on_revisit(ctx: Ctx[Event]) -> None:
    sat = _satisfaction(ctx)
    if sat is None:
        raise Invalid({"satisfaction": "1 (very dissatisfied) to 5 (very satisfied)"})
    e = ctx.obj
    e.satisfaction, e.revisited_at = sat, ctx.now
    e.alarm_at = None
    ctx.data["satisfaction"] = sat


def on_rate(ctx: Ctx[Event]) -> None:
    """The reporter's rating, once; the receiving centre hears of it (an unsatisfied one may
    lead it to reopen the event)."""
    e, rating = ctx.obj, str(ctx.inputs.get("rating") or "")
    if rating not in choices.RATINGS:
        raise Invalid({"rating": f"one of {', '.join(choices.RATINGS)}"})
    comment = str(ctx.inputs.get("comment") or "").strip()
    if len(comment) > 500:
        raise Invalid({"comment": "at most 500 characters"})
    if e.rating:
        raise Conflict("this report has been rated already")
    e.rating, e.rating_comment, e.rated_at = rating, comment, ctx.now
    ctx.data["rating"] = rating
    label = str(choices.RATINGS[rating])
    ctx.inputs["note"] = f"{label}：{comment}" if comment else label  # the timeline's note
    key = f"{e.pk}:rated"
    ctx.after.append(
        lambda: sla.notify(
            e, "event.rated", f"unit:{e.receiving_centre.code}", {"rating": rating}, key=key
        )
    )


def on_reply(ctx: Ctx[Event]) -> None:
    reply = str(ctx.inputs.get("reply") or "").strip()
    if len(reply) > 500:
        raise Invalid({"reply": "at most 500 characters"})
    ctx.obj.public_reply = reply
    ctx.inputs["note"] = reply


def on_reopen(ctx: Ctx[Event]) -> None:
    e = ctx.obj
    sat = _satisfaction(ctx)
    if sat is not None:
        e.satisfaction = sat
    e.rework_count += 1
    e.closed_at = None
    e.closed_on_time = None
    ctx.after.append(lambda: _notify_assignee(ctx, "event.reopened"))


def on_archive(ctx: Ctx[Event]) -> None:
    ctx.obj.archived_at = ctx.now
    ctx.obj.alarm_at = None


def _raise_level(event: Event) -> str:
    level = codes.next_handling_level(event.handling_level)
    if level is None:
        raise Conflict("the event is already handled at city level")
    centre = routing.centre_of(codes.area_at(event.grid_code, level))
    if centre is None:
        raise Conflict(f"no {level} centre serves this event")
    event.handling_level, event.receiving_centre = level, centre
    return level


def on_escalate(ctx: Ctx[Event]) -> None:
    ctx.data["level"] = _raise_level(ctx.obj)
    ctx.obj.escalation_count += 1
    ctx.after.append(lambda: _notify_centre(ctx, "event.escalated"))


URGE_RANK = {"": 0, "remind": 1, "formal": 2, "listed": 3}
# Who may climb how far: a reminder and formal supervision by any centre seat or leader; a
# listed supervision (挂牌督办) only by a leader.
URGE_ROLES = {
    "remind": frozenset({Role.OPERATOR, Role.CENTRE_LEADER, Role.LEADER}),
    "formal": frozenset({Role.OPERATOR, Role.CENTRE_LEADER, Role.LEADER}),
    "listed": choices.LISTING_ROLES,
}


def on_supervise(ctx: Ctx[Event]) -> None:
    """One step of the supervision ladder (催办 → 督办 → 挂牌督办): kept against whoever has the
    event now, told to them, and the event shows the highest level it has reached."""
    e, level = ctx.obj, str(ctx.inputs.get("level") or "remind")
    if level not in URGE_ROLES:
        raise Invalid({"level": "remind, formal or listed"})
    if ctx.post is not None and ctx.post.role not in URGE_ROLES[level]:
        raise Invalid({"level": "a listed supervision is for leaders"})
    if URGE_RANK[level] > URGE_RANK[e.urge_level]:
        e.urge_level = level
    e.urge_count += 1
    ctx.data["level"] = level
    urge = Urge(
        event=e,
        level=level,
        note=str(ctx.inputs.get("reason") or ""),
        assignee_kind=e.assignee_kind,
        assignee_unit_id=e.assignee_unit_id,
        assignee_grid=e.assignee_grid,
        grid_code=e.grid_code,
        urged_by=ctx.actor,
        urged_at=ctx.now,
    )
    ctx.after.append(urge.save)
    topic = "event.supervised" if e.assignee_kind else "event.urged"
    ctx.after.append(
        lambda: _notify_assignee(ctx, topic) if e.assignee_kind else _notify_centre(ctx, topic)
    )


def on_warn(ctx: Ctx[Event]) -> None:
    """Yellow supervision: the step is about to run out (the ticker)."""
    e = ctx.obj
    e.supervision = Event.Supervision.YELLOW
    e.alarm_at = e.due_at
    ctx.data.update(step=e.step, due_at=e.due_at.isoformat() if e.due_at else None)
    ctx.after.append(lambda: _remind(e, "event.due_soon"))


def on_overdue(ctx: Ctx[Event]) -> None:
    """Red supervision and escalation to the next centre level: the step has run out."""
    e = ctx.obj
    e.supervision = Event.Supervision.RED
    e.overdue_count += 1
    e.alarm_at = None
    ctx.data["step"] = e.step
    if e.state != State.CLOSED:
        try:
            ctx.data["level"] = _raise_level(e)
            e.escalation_count += 1
        except Conflict:
            ctx.data["level"] = e.handling_level

    def tell() -> None:
        _remind(e, "event.overdue")
        sla.notify(
            e,
            "event.overdue",
            f"unit:{e.receiving_centre.code}",
            key=f"{e.pk}:{e.version}:overdue:centre",
        )

    ctx.after.append(tell)


def on_regrid(ctx: Ctx[Event]) -> None:
    """The grids were redrawn: an open event follows the grid its point now lies in."""
    e, new = ctx.obj, str(ctx.inputs["grid"])
    ctx.data.update({"from": e.grid_code, "to": new})
    e.grid_code, e.county_code = new, codes.county_of(new)
    e.location_uncertain = not bool(ctx.inputs.get("inside", True))


def _remind(event: Event, topic: str) -> None:
    if event.assignee_kind == "grid":
        recipient = f"grid:{event.assignee_grid}"
    elif event.assignee_unit_id:
        unit_id = event.assignee_unit_id
        code = refcache.cached(("unit-code", unit_id), lambda: _unit_code(unit_id))
        recipient = f"unit:{code}"
    else:
        recipient = f"unit:{event.receiving_centre.code}"
    sla.notify(event, topic, recipient, key=f"{event.pk}:{event.version}:{topic}")


def _unit_code(unit_id: int) -> str:
    return str(OrgUnit.objects.values_list("code", flat=True).get(pk=unit_id))


def attach(ctx: Ctx[Event]) -> None:
    """Photos and recordings sent with any action join the event and its timeline row; only
    the actor's own uploads, not yet used."""
    ids = list(dict.fromkeys(str(a) for a in ctx.inputs.get("attachments") or []))
    if not ids:
        return
    uploader = ctx.actor if getattr(ctx.actor, "pk", None) else None
    found = Attachment.objects.filter(pk__in=ids, event__isnull=True, uploaded_by=uploader)
    if found.count() != len(ids):
        raise Invalid({"attachments": "unknown or already used attachment ids"})
    found.update(event=ctx.obj, timeline_entry=ctx.entry)


HANDLERS: dict[str, Callable[[Ctx[Event]], None]] = {
    "accept": on_accept,
    "send_to_verify": on_send_to_verify,
    "confirm": on_confirm,
    "refute": on_terminal,
    "reject": on_terminal,
    "merge": on_merge,
    "cancel": on_terminal,
    "dispatch": on_dispatch,
    "sign": on_sign,
    "visit": on_visit,
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
    "rate": on_rate,
    "reply": on_reply,
    "archive": on_archive,
    "escalate": on_escalate,
    "supervise": on_supervise,
    "warn": on_warn,
    "overdue": on_overdue,
    "regrid": on_regrid,
}
