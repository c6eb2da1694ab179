"""The workflow engine: one path for every action of every flow (events now, mediation next).

A flow supplies its model, its states, its rule table (``Rule``: which states an action leaves,
the state it reaches, the roles and the relation the actor needs, the inputs it takes and
requires, whether it keeps the step clock, a label), its relations (``who``), its handlers and
a few hooks. The engine runs each action the same way, in one transaction::

    idempotency lookup → scoped load → version check → state check → guard → authorise →
    handler → state change → compare-and-set on ``version`` → timeline row → after hooks
    (outbox messages, more writes) → audit row → idempotency record → commit

so every change — by a person, by the reporter with their secret, by the ticker — writes its
timeline and audit rows alike, and two concurrent actions give one winner and a 409.
``allowed`` answers "what may this user do here?" from the same table and the same checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Generic, TypeVar

from django.db import connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone

from . import audit, idempotency, outbox, sql
from .errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from .text import visible

M = TypeVar("M", bound=models.Model)

USER, REPORTER, SYSTEM = "user", "reporter", "system"  # who takes an action
# Sent inside the transaction of every change a flow's object goes through, its creation
# included (``before`` is then None), with ``obj``, ``action``, ``before`` (the row as it was
# read) and ``at``: higher layers (the upper-level exchange) write their outbox rows with the
# change without the domain importing them. A receiver's error rolls the change back.
changed = Signal()
# Inputs every action by a person may carry.
COMMON_INPUTS = ("note", "attachments", "expected_version")


@dataclass(frozen=True)
class Input:
    """One input of an action, as the engine checks it and a page offers it."""

    name: str
    kind: str  # text | choice | integer | decimal | code | codes
    label: Any = ""
    required: bool = False
    # (obj, user) → [(value, label)], for inputs chosen from a list (grids, departments…)
    choices: Callable[[Any, Any], list[tuple[str, str]]] | None = None

    def describe(self, obj: Any, user: Any, with_choices: bool = True) -> dict[str, Any]:
        found = self.choices(obj, user) if self.choices and with_choices else None
        return {
            "name": self.name,
            "kind": self.kind,
            "label": str(self.label),
            "required": self.required,
            "choices": [{"value": v, "label": str(lbl)} for v, lbl in found] if found else None,
        }


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the state stays (flags, counters, approvals)
    roles: frozenset[str]
    who: str  # the relation the actor needs (a key of Flow.relations)
    label: Any = ""
    inputs: tuple[Input, ...] = ()
    keeps_clock: bool = False  # the step clock runs on (suspension and resumption)
    by: str = USER  # user | reporter | system

    @property
    def needs_reason(self) -> bool:
        return any(i.name == "reason" and i.required for i in self.inputs)

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)


@dataclass
class Acting:
    """Who the engine lets act: the post they act in (None for the reporter and the system)."""

    post: Any = None


@dataclass
class Ctx(Generic[M]):
    obj: M
    rule: Rule
    actor: Any  # a user, or None for the reporter and the system
    acting: Acting
    now: datetime
    inputs: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)  # goes into the timeline and audit rows
    after: list[Callable[[], None]] = field(default_factory=list)  # more writes, same transaction
    entry: Any = None  # the timeline row, once written
    before: dict[str, Any] = field(default_factory=dict)

    @property
    def post(self) -> Any:
        return self.acting.post


# (obj, user, rule, inputs) → Acting, or None when the user lacks the relation. May raise a
# ServiceError to give a sharper answer (the handler may not verify their own work).
Relation = Callable[[Any, Any, Rule, Mapping[str, Any]], Acting | None]
Handler = Callable[[Ctx[Any]], None]


@dataclass
class Flow(Generic[M]):
    name: str  # audit actions are "<name>.<action>"; idempotency operations likewise
    model: type[M]
    timeline: type[models.Model]  # a core.models.TimelineBase with a foreign key to the model
    subject: str  # that foreign key's name
    rules: dict[str, Rule]
    relations: dict[str, Relation]
    handlers: dict[str, Handler]
    load: Callable[[Any, Any, str], M | None]  # (key, user, action) → the object in scope
    load_any: Callable[[Any], M | None]  # key → the object, for the reporter and the system
    guards: dict[str, Callable[[M], str | None]] = field(default_factory=dict)
    on_enter: Callable[[Ctx[M], str], None] | None = None  # a new state (the step clock)
    after_timeline: Callable[[Ctx[M]], None] | None = None  # every action (attachments)
    state_field: str = "state"
    # (obj, user, action) → whether an object in hand is in the user's scope for action, read
    # more cheaply than loading it again; None: by ``load``
    visible: Callable[[M, Any, str], bool] | None = None

    def rule(self, action: str) -> Rule:
        try:
            return self.rules[action]
        except KeyError:
            raise Invalid({"action": f"unknown action {action!r}"}) from None


@dataclass(frozen=True)
class Result(Generic[M]):
    obj: M
    answer: dict[str, Any] | None  # what the caller was answered (kept for replays)
    replayed: bool


# ----------------------------------------------------------------------------- running


def run(
    flow: Flow[M],
    key: Any,
    action: str,
    actor: Any = None,
    inputs: Mapping[str, Any] | None = None,
    *,
    system: bool = False,
    idempotency_key: str = "",
    owner: str = "",
    answer: Callable[[M], dict[str, Any]] | None = None,
) -> Result[M]:
    """Take ``action`` on the object ``key`` (an instance, an id or another key the flow's
    loader understands) for ``actor``. ``system=True`` is for the platform's own actions (the
    ticker, grid redraws), never for a request. With an ``idempotency_key`` a replay by the same
    ``owner`` answers what the first answered and writes nothing."""
    rule = flow.rule(action)
    given = _clean_inputs(rule, dict(inputs or {}))
    operation = f"{flow.name}.{action}"
    fingerprint = ""
    if idempotency_key:
        idempotency_key = idempotency.check_key(idempotency_key, "client_id")
        owner = owner or idempotency.owner_of(actor)
        fingerprint = idempotency.fingerprint({"key": str(_pk(key)), "inputs": given})
        found = idempotency.lookup(owner, operation, idempotency_key, fingerprint)
        if found is not None:
            return Result(flow.load_any(found.object_id), found.body, replayed=True)  # type: ignore[arg-type]
    with transaction.atomic():
        ctx = _begin(flow, rule, key, actor, given, system)
        flow.handlers.get(action, _nothing)(ctx)
        _change_state(flow, ctx)
        _write(flow, ctx)
        body = answer(ctx.obj) if answer else None
        if idempotency_key:
            idempotency.remember(
                owner, operation, idempotency_key, fingerprint, 200, body or {}, ctx.obj.pk
            )
    return Result(ctx.obj, body, replayed=False)


def _nothing(ctx: Ctx[Any]) -> None:
    return None


def _pk(key: Any) -> Any:
    return key.pk if isinstance(key, models.Model) else key


def _clean_inputs(rule: Rule, given: dict[str, Any]) -> dict[str, Any]:
    """Keep what the rule takes; refuse what it does not take and what it requires but lacks."""
    taken = {i.name for i in rule.inputs} | (set(COMMON_INPUTS) if rule.by == USER else set())
    present = {k: v for k, v in given.items() if v not in (None, "", [], ())}
    errors = {k: "this action does not take this input" for k in present if k not in taken}
    for i in rule.inputs:
        value = present.get(i.name)
        if i.required and (value is None or (isinstance(value, str) and not visible(value))):
            errors[i.name] = f"{i.name} is required for this action"
    if errors:
        raise Invalid(errors)
    return present


def _begin(
    flow: Flow[M], rule: Rule, key: Any, actor: Any, given: dict[str, Any], system: bool
) -> Ctx[M]:
    """Load, check state and guard, authorise: the context an action's handler runs in."""
    if (rule.by == SYSTEM) != system:
        raise Forbidden(f"{rule.action} is not taken that way")
    obj = _load(flow, rule, key, actor)
    # The reporter proves who they are before anything about the record is told (a wrong
    # proof answers like an unknown record, whatever its state).
    acting = flow.relations[rule.who](obj, actor, rule, given) if rule.by == REPORTER else None
    expected = given.get("expected_version")
    if expected is not None and int(expected) != obj.version:  # type: ignore[attr-defined]
        raise Conflict("the record has changed since you loaded it")
    state = getattr(obj, flow.state_field)
    if state not in rule.sources:
        raise Conflict(f"cannot {rule.action} a record that is {state}")
    guard = flow.guards.get(rule.action)
    problem = guard(obj) if guard else None
    if problem:
        raise Conflict(problem)
    if rule.by != REPORTER:
        acting = flow.relations[rule.who](obj, actor, rule, given)
    if acting is None:
        raise Forbidden(f"you may not {rule.action} this")
    ctx = Ctx(obj, rule, actor, acting, timezone.now(), given)
    ctx.before = snapshot(obj)
    return ctx


def _load(flow: Flow[M], rule: Rule, key: Any, actor: Any) -> M:
    if rule.by == SYSTEM and isinstance(key, flow.model):
        return key  # the platform's own code read it in this transaction (the ticker)
    if rule.by == USER:
        if actor is None or not getattr(actor, "is_authenticated", False):
            raise NotFound()
        obj = flow.load(_pk(key), actor, "view")
    else:
        obj = flow.load_any(_pk(key))
    if obj is None:
        raise NotFound()
    if isinstance(key, models.Model) and key.version != obj.version:  # type: ignore[attr-defined]
        raise Conflict("the record has changed since it was read")
    return obj


def _change_state(flow: Flow[M], ctx: Ctx[M]) -> None:
    target = ctx.rule.target
    if target is None or target == getattr(ctx.obj, flow.state_field):
        return
    setattr(ctx.obj, flow.state_field, target)
    if flow.on_enter is not None and not ctx.rule.keeps_clock:
        flow.on_enter(ctx, target)


def _write(flow: Flow[M], ctx: Ctx[M]) -> None:
    cas_write(ctx.obj, ctx.before, ctx.now)
    ctx.entry = timeline_row(flow, ctx)
    sql.insert(ctx.entry)
    _follow(flow, ctx)
    audit.record(**_audit_row(flow, ctx))


def _follow(flow: Flow[M], ctx: Ctx[M]) -> None:
    """What every change does once its row and timeline row are written: the flow's hook, the
    handler's further writes, the ``changed`` signal."""
    if flow.after_timeline is not None:
        flow.after_timeline(ctx)
    for fn in ctx.after:
        fn()
    changed.send(flow.model, obj=ctx.obj, action=ctx.rule.action, before=ctx.before, at=ctx.now)


def _audit_row(flow: Flow[M], ctx: Ctx[M]) -> dict[str, Any]:
    before, after = ctx.before[flow.state_field], getattr(ctx.obj, flow.state_field)
    return {
        "action": f"{flow.name}.{ctx.rule.action}",
        "actor": ctx.actor,
        "post_id": getattr(ctx.post, "pk", None),
        "obj": ctx.obj,
        "detail": {"from": before, "to": after, **ctx.data},
    }


def run_system_batch(flow: Flow[M], objs: list[M], action: str) -> list[M]:
    """The platform's own ``action`` on many objects the caller read, and locked where the
    database can, in its open transaction (the ticker). Each object passes the same checks and
    handler as in ``run``; the writes are batched: one compare-and-set UPDATE per object, the
    timeline rows and the audit rows in bulk. An object whose state or guard no longer allows
    the action is left out; a compare-and-set that finds the row changed raises Conflict and
    the caller's whole transaction rolls back (the next tick reads again). Answers the objects
    acted on."""
    if not connection.in_atomic_block:
        raise RuntimeError("run_system_batch runs inside the caller's transaction")
    rule = flow.rule(action)
    ctxs: list[Ctx[M]] = []
    for obj in objs:
        try:
            ctx = _begin(flow, rule, obj, None, {}, True)
        except Conflict:
            continue  # its state or guard no longer allows it
        flow.handlers.get(action, _nothing)(ctx)
        _change_state(flow, ctx)
        ctxs.append(ctx)
    cas_write_many([(ctx.obj, ctx.before) for ctx in ctxs], ctxs[0].now if ctxs else None)
    entries = [timeline_row(flow, ctx) for ctx in ctxs]
    flow.timeline._default_manager.bulk_create(entries)
    with outbox.batched():
        for ctx, entry in zip(ctxs, entries, strict=True):
            ctx.entry = entry
            _follow(flow, ctx)
    audit.record_many([_audit_row(flow, ctx) for ctx in ctxs])
    return [ctx.obj for ctx in ctxs]


# ----------------------------------------------------------------------------- writing

_SKIP = {"id", "version", "updated_at"}


def snapshot(obj: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def cas_write(obj: models.Model, before: dict[str, Any], now: datetime) -> None:
    """Write what changed, only if nobody wrote since ``before`` (compare-and-set). One fixed
    statement per set of changed columns (core.sql): every action of every flow runs it."""
    cas_write_many([(obj, before)], now)


def cas_write_many(changed: list[tuple[models.Model, dict[str, Any]]], now: Any) -> None:
    """``cas_write`` for many objects of one model: one executemany per set of changed
    columns (the ticker's batches); Conflict if any of them was written meanwhile."""
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for obj, before in changed:
        model = type(obj)
        changes = {k: v for k, v in snapshot(obj).items() if k not in _SKIP and before[k] != v}
        if any(f.name == "updated_at" for f in model._meta.concrete_fields):
            changes["updated_at"] = now
        version = before["version"]
        _text, fields = _cas_sql(model, tuple(changes))
        values = [f.get_db_prep_save(changes[f.attname], connection) for f in fields]
        pk = model._meta.pk
        assert pk is not None
        key = pk.get_db_prep_value(obj.pk, connection)
        groups.setdefault(tuple(changes), []).append([*values, version + 1, key, version])
    for names, rows in groups.items():
        text, _fields = _cas_sql(type(changed[0][0]), names)
        with connection.cursor() as cur:
            if len(rows) == 1:
                cur.execute(text, rows[0])
            else:
                cur.executemany(text, rows)
            updated = cur.rowcount
        if updated != len(rows):
            raise Conflict("the record was changed by someone else; reload and try again")
    for obj, before in changed:
        obj.version = before["version"] + 1  # type: ignore[attr-defined]


@cache
def _cas_sql(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, list[Any]]:
    fields = [f for n in names for f in model._meta.concrete_fields if f.attname == n]
    q = connection.ops.quote_name
    sets = "".join(f"{q(f.column)} = %s, " for f in fields)
    pk = model._meta.pk
    assert pk is not None
    text = (
        f"UPDATE {q(model._meta.db_table)} SET {sets}{q('version')} = %s "  # noqa: S608
        f"WHERE {q(pk.column)} = %s AND {q('version')} = %s"
    )
    return text, fields


def timeline_row(flow: Flow[M], ctx: Ctx[M]) -> Any:
    """The change's timeline row, not yet saved."""
    user = ctx.actor if getattr(ctx.actor, "pk", None) else None
    return flow.timeline(
        **{flow.subject: ctx.obj},
        seq=ctx.obj.version,  # type: ignore[attr-defined]
        at=ctx.now,
        actor=user,
        actor_label=str(user) if user else ctx.rule.by,
        post_id=getattr(ctx.post, "pk", None),
        action=ctx.rule.action,
        from_state=ctx.before[flow.state_field],
        to_state=getattr(ctx.obj, flow.state_field),
        note=str(ctx.inputs.get("reason") or ctx.inputs.get("note") or ""),
        data=ctx.data,
    )


# ----------------------------------------------------------------------------- asking


def allowed(flow: Flow[M], obj: M, user: Any, with_choices: bool = True) -> list[dict[str, Any]]:
    """The actions ``user`` may take on ``obj`` now, with their inputs: the same table and the
    same checks as ``run`` (scope, state, guard, relation), for actions people take."""
    seen = flow.visible(obj, user, "view") if flow.visible else flow.load(obj.pk, user, "view")
    if not seen:
        return []
    found = []
    for rule in flow.rules.values():
        if rule.by != USER or not may(flow, obj, user, rule):
            continue
        found.append(
            {
                "action": rule.action,
                "label": str(rule.label),
                "target": rule.target,
                "inputs": [i.describe(obj, user, with_choices) for i in rule.inputs],
            }
        )
    return found


def may(flow: Flow[M], obj: M, user: Any, rule: Rule) -> bool:
    if getattr(obj, flow.state_field) not in rule.sources:
        return False
    guard = flow.guards.get(rule.action)
    if guard is not None and guard(obj):
        return False
    try:
        return flow.relations[rule.who](obj, user, rule, {}) is not None
    except ServiceError:
        return False
