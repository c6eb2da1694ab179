"""The one intake service every channel calls: web, WeChat, Open311, the grid worker app and
operator phone entry. Idempotent on the client's id; the answer is sent only after commit."""

from __future__ import annotations

import math
import secrets
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from gridgov.accounts.roles import Role
from gridgov.accounts.scope import active_posts
from gridgov.core import audit, codes, flow, groupcommit, idempotency, outbox, refcache, sql
from gridgov.core.crypto import blind_index, secret_digest
from gridgov.core.errors import Forbidden, Invalid
from gridgov.core.models import AuditLog
from gridgov.core.personal import normalize_phone
from gridgov.core.text import control_errors, visible
from gridgov.geo.crs import CRS
from gridgov.geo.geometry import metres_per_degree

from . import queries, routing, sla, square
from .models import Attachment, CaseCounter, Category, Event, TimelineEntry
from .workflow import FIELD, OPEN, State

DUPLICATE_RADIUS_M = 50.0
DUPLICATE_WINDOW = timedelta(hours=24)


OPERATION = "event.report"
# Who may report: staff inside their own scope, and channel accounts (WeChat, Open311, the
# public web page) for the public, inside the area they serve. Administrators, auditors,
# analysts, mediators and department handlers do not report events.
REPORT_ROLES = frozenset(
    {Role.GRID_WORKER, Role.GRID_LEADER, Role.OPERATOR, Role.CENTRE_LEADER, Role.CHANNEL}
)
PUBLIC_CHANNELS = frozenset({"web", "wechat", "open311"})
# the choices' values, once: an enum's .values builds its list on every call
CHANNELS = frozenset(Event.Channel.values)
URGENCIES = frozenset(Event.Urgency.values)


@dataclass
class Report:
    channel: str
    title: str
    description: str
    lon: float
    lat: float
    crs: str = CRS.WGS84
    address: str = ""
    category: str | None = None
    urgency: str = "normal"
    reporter_name: str = ""
    reporter_phone: str = ""
    reporter_openid: str = ""
    attachments: list[str] = field(default_factory=list)
    resolved_on_spot: bool = False
    note: str = ""
    # the citizens' pages: the phone's last four digits may later prove the report is theirs
    phone_proof: bool = False

    def fingerprint(self) -> str:
        # the fields' values as they are (flat: strings, numbers, a list of strings); asdict's
        # deep copy cost more than the hash
        return idempotency.fingerprint({f: getattr(self, f) for f in _REPORT_FIELDS})


_REPORT_FIELDS = tuple(f.name for f in fields(Report))


@dataclass(frozen=True)
class Intake:
    """The event and the answer its reporter got (the same answer on every replay)."""

    event: Event
    receipt: dict[str, Any]
    created: bool


def validate(report: Report) -> dict[str, str]:
    errors: dict[str, str] = control_errors(
        title=report.title,
        description=report.description,
        address=report.address,
        reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone,
        reporter_openid=report.reporter_openid,
        note=report.note,
    )
    if report.channel not in CHANNELS:
        errors["channel"] = f"one of {', '.join(Event.Channel.values)}"
    if not visible(report.title) or len(report.title.strip()) > 100:
        errors["title"] = "1 to 100 characters"
    if not visible(report.description) or len(report.description.strip()) > 4000:
        errors["description"] = "1 to 4000 characters"
    if not (math.isfinite(report.lon) and -180 <= report.lon <= 180):
        errors["lon"] = "a longitude in degrees"
    if not (math.isfinite(report.lat) and -90 <= report.lat <= 90):
        errors["lat"] = "a latitude in degrees"
    if report.crs not in CRS.__members__.values():
        errors["crs"] = "wgs84, gcj02 or bd09"
    if report.urgency not in URGENCIES:
        errors["urgency"] = "normal or urgent"
    if len(report.address) > 200:
        errors["address"] = "at most 200 characters"
    if len(report.reporter_name) > 64:
        errors["reporter_name"] = "at most 64 characters"
    if len(report.reporter_openid) > 64:
        errors["reporter_openid"] = "at most 64 characters"
    phone = report.reporter_phone.replace("-", "").replace(" ", "").removeprefix("+")
    if report.reporter_phone and not (phone.isdigit() and phone.isascii() and len(phone) <= 20):
        errors["reporter_phone"] = "digits only"
    if len(report.attachments) > 9:
        errors["attachments"] = "at most 9 attachments"
    return errors


def do_intake(
    report: Report, client_id: str, actor: Any = None, *, owner: str | None = None
) -> Intake:
    """Register a report. A replay of the same key by the same caller answers exactly what the
    first request was answered; the same key with a different body is a conflict. Keys belong
    to their caller: ``owner`` is the signed-in account, or the channel that speaks for the
    public when trusted code (a channel adapter, ``actor=None``) calls. Raises Invalid with
    field messages, Forbidden when the caller may not report there."""
    client_id = idempotency.check_key(client_id)
    owner = owner or _owner(actor, report)
    fingerprint = report.fingerprint()
    found = idempotency.lookup(owner, OPERATION, client_id, fingerprint)
    if found is not None:
        return _replayed(found)
    errors = validate(report)
    if errors:
        raise Invalid(errors)
    ready = _prepare(report, client_id, fingerprint, actor, owner)  # reads, outside the lock
    try:
        # written with the process's other reports of the moment, answered once durable
        intake: Intake = groupcommit.run_grouped(_create_many, ready)
        return intake
    except IntegrityError:
        found = idempotency.lookup(owner, OPERATION, client_id, fingerprint)
        if found is None:
            raise
        return _replayed(found)


def replay(report: Report, client_id: str, owner: str) -> Intake | None:
    """The first answer to this report by ``owner`` under this key, if there was one (a door
    that asks something of new reports only, like a proof of work, lets replays through)."""
    found = idempotency.lookup(
        owner, OPERATION, idempotency.check_key(client_id), report.fingerprint()
    )
    return _replayed(found) if found is not None else None


def _owner(actor: Any, report: Report) -> str:
    if actor is None:
        return f"channel:{report.channel}"
    if not getattr(actor, "is_authenticated", False):
        raise Forbidden("sign in to report")
    return idempotency.owner_of(actor)


def _replayed(answer: idempotency.Answer) -> Intake:
    event = Event.objects.select_related("receiving_centre").get(pk=answer.object_id)
    return Intake(event, answer.body, created=False)


def authorise_report(actor: Any, report: Report, grid_code: str) -> None:
    """Staff report inside their scope; channel accounts report for the public channels."""
    if actor is None:
        return  # trusted code: a channel adapter or a command
    posts = [p for p in active_posts(actor) if p.role in REPORT_ROLES]
    if not posts:
        raise Forbidden("your posts do not report events")
    covering = [p for p in posts if codes.covers(p.scope_code, grid_code)]
    if not covering:
        raise Forbidden("this location lies outside the area you serve", "location")
    if all(p.role == Role.CHANNEL for p in covering) and report.channel not in PUBLIC_CHANNELS:
        raise Invalid({"channel": f"a channel account reports as {', '.join(PUBLIC_CHANNELS)}"})


def _category(report: Report) -> Category | None:
    if not report.category:
        return None
    code = report.category
    cat = refcache.cached(
        ("category", code),
        lambda: Category.objects.filter(code=code, active=True, parent__isnull=False).first(),
    )
    if cat is None:
        raise Invalid({"category": f"unknown category {report.category!r}"})
    return cat


def _days(times: list[Any]) -> list[str]:
    return [timezone.localtime(t).strftime("%Y%m%d") for t in times]


def _counted(days: list[str]) -> list[tuple[str, list[Any]]]:
    """One upsert per day that takes the day's next case numbers and answers its new count
    (it takes the counter row's lock on PostgreSQL, so numbers are never handed out twice);
    they can be sent with others (``sql.fetch_each``), their rows go to ``_codes``."""
    table = sql.table(CaseCounter)
    upsert = (
        f"INSERT INTO {table} (day, last) VALUES (%s, %s) "  # noqa: S608 - our table name
        f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + excluded.last RETURNING last"
    )
    return [(upsert, [day, n]) for day, n in _per_day(days)]


def _per_day(days: list[str]) -> list[tuple[str, int]]:
    """How many reports each day has, the days in one order: one order of row locks."""
    return sorted(Counter(days).items())


def _codes(days: list[str], counted: list[list[tuple[Any, ...]]]) -> list[str]:
    """Each report's case number, from ``_counted(days)``'s answers."""
    last: dict[str, int] = {}
    for (day, n), rows in zip(_per_day(days), counted, strict=True):
        last[day] = rows[0][0] - n
    found = []
    for day in days:
        last[day] += 1
        found.append(f"{settings.CASE_PREFIX}{day}{last[day]:06d}")
    return found


@dataclass(frozen=True)
class Prepared:
    """What intake works out before its transaction, so the write lock is held only to write."""

    event: Event
    entry: TimelineEntry  # the first timeline row
    route: routing.Route
    secret: str  # the reporter's, told once in the receipt; only its digest is stored
    duplicates: list[str]  # the candidates the caller may see
    report: Report
    actor: Any
    owner: str  # whose key the report's client id is
    audit_row: AuditLog  # the audit row, but for its place in the chain
    # The rows as INSERT sends them, worked out here: the writer holds the database's one
    # writer lock while it writes, so it only fills in the case number.
    event_row: list[Any]
    entry_row: list[Any]


def _prepare(report: Report, client_id: str, fingerprint: str, actor: Any, owner: str) -> Prepared:
    """Everything intake can work out by reading: route, category, clock, duplicates."""
    category = _category(report)
    try:
        route = routing.route(report.lon, report.lat, report.crs, report.urgency == "urgent")
    except routing.RoutingError as exc:
        raise Invalid({exc.field: str(exc)}) from None
    authorise_report(actor, report, route.grid_code)
    now = timezone.now()
    loc = route.location
    event = Event(
        channel=report.channel,
        client_id=client_id,
        request_hash=fingerprint,
        reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone,
        reporter_openid=report.reporter_openid,
        reporter_phone_index=blind_index("phone", normalize_phone(report.reporter_phone)),
        reporter_openid_index=blind_index("openid", report.reporter_openid.strip()),
        reported_by=actor if getattr(actor, "pk", None) else None,
        title=report.title.strip(),
        description=report.description.strip(),
        address=report.address,
        lon=loc.lon,
        lat=loc.lat,
        orig_lon=report.lon,
        orig_lat=report.lat,
        orig_crs=report.crs,
        location_uncertain=not loc.inside,
        grid_code=route.grid_code,
        county_code=codes.county_of(route.grid_code),
        category=category,
        urgency=report.urgency,
        area_type=route.village.area_type,
        state=State.REPORTED,
        handling_level=route.handling_level,
        receiving_centre=route.receiving_centre,
        reported_at=now,
        is_public=bool(category and category.public and not category.sensitive),
        phone_proof=report.phone_proof and bool(report.reporter_phone),
    )
    if report.resolved_on_spot:
        _self_resolved(event, report, actor, now)
    sla.start_step(event, event.state, now)
    event.duplicate_candidates = duplicate_candidates(event)
    secret = secrets.token_urlsafe(18)
    event.reporter_secret_hash = secret_digest(secret)
    visible = queries.visible_codes(actor, event.duplicate_candidates)
    entry = TimelineEntry(
        event=event,
        seq=1,
        at=now,
        actor=event.reported_by,
        actor_label=str(actor or report.channel),
        action="self_resolve" if report.resolved_on_spot else "report",
        to_state=event.state,
        note=report.note,
        data={
            "channel": report.channel,
            "grid": event.grid_code,
            "inside": loc.inside,
            "distance_m": round(loc.distance_m, 1),
        },
    )
    audit_row = audit.build(
        "event.report",
        actor=actor,
        obj=event,
        detail={"channel": report.channel, "grid": event.grid_code},
    )
    event_row, entry_row = sql.row_values(event, False), sql.row_values(entry, False)
    return Prepared(
        event, entry, route, secret, visible, report, actor, owner, audit_row, event_row, entry_row
    )


def _create_many(batch: list[Prepared]) -> list[Intake]:
    """The writes of several reports, a few statements for them all (group commit): case
    numbers, events, first timeline rows, attachments, notices, audit rows and the answers
    kept for replays. Run again for one report alone if a batch fails, so nothing here may
    depend on an earlier run."""
    # The two answers the writes wait for, asked together (one round trip on PostgreSQL):
    # the days' case numbers and the audit chain's places.
    days = _days([r.event.reported_at for r in batch])
    *counted, head = sql.fetch_each([*_counted(days), audit.head_taken(len(batch))])
    at = sql.column_at(Event, "code")
    for ready, code in zip(batch, _codes(days, counted), strict=True):
        ready.event.code = ready.event_row[at] = code
    # The writes, sent together (one round trip on PostgreSQL): none reads a row count or an
    # id back. Attachments and hooks are rare here; what they read waits for what was sent.
    with sql.pipelined():
        sql.insert_rows([r.event for r in batch], [r.event_row for r in batch])
        sql.insert_rows([r.entry for r in batch], [r.entry_row for r in batch], returning=False)
        with outbox.batched():
            for r in batch:
                _claim_attachments(r.event, r.report.attachments, r.actor)
                square.follow(None, r.event)  # public at once only when fixed on the spot
                _announce(r.event, r.route)
                flow.changed.send(
                    Event, obj=r.event, action=r.entry.action, before=None, at=r.event.reported_at
                )
        audit.chain([r.audit_row for r in batch], head, returning=False)
        answers = idempotency.remember_many(
            [
                idempotency.Kept(
                    r.owner,
                    OPERATION,
                    r.event.client_id,
                    r.event.request_hash,
                    201,
                    _receipt(r.event, r.secret, r.duplicates),
                    r.event.pk,
                )
                for r in batch
            ]
        )
    return [Intake(r.event, a.body, created=True) for r, a in zip(batch, answers, strict=True)]


def _receipt(event: Event, secret: str, duplicates: list[str]) -> dict[str, Any]:
    """What the reporter is told: the case number, where it went, the first deadline, the
    duplicates the caller may see, and the secret to follow or withdraw the report."""
    return {
        "id": event.pk,
        "code": event.code,
        "state": event.state,
        "grid_code": event.grid_code,
        "receiving_centre": event.receiving_centre.name,
        "location_uncertain": event.location_uncertain,
        "due_at": event.due_at,
        "duplicate_candidates": duplicates,
        "reporter_secret": secret,
    }


def _self_resolved(event: Event, report: Report, actor: Any, now: Any) -> None:
    """自报自结: a grid worker fixed it on the spot; it enters at awaiting check."""
    posts = [
        p
        for p in active_posts(actor)
        if p.role in FIELD and codes.covers(p.scope_code, event.grid_code)
    ]
    if not posts:
        raise Forbidden("only a grid worker of this grid may report a fix on the spot")
    if event.category is None:
        raise Invalid({"category": "a fix on the spot needs its category"})
    if len(set(report.attachments)) < 2:
        raise Invalid({"attachments": "before and after photos are required"})
    event.state = State.AWAITING_CHECK
    event.resolved_on_spot = True
    event.handler = actor
    event.assignee_kind, event.assignee_grid = "grid", event.grid_code
    event.registered_at = event.dispatched_at = event.signed_at = event.result_at = now
    event.closed_on_time = True


def _claim_attachments(event: Event, ids: list[str], actor: Any) -> None:
    if not ids:
        return
    unique = list(dict.fromkeys(ids))
    uploader = actor if getattr(actor, "pk", None) else None
    # Only the caller's own uploads: an attachment id seen elsewhere cannot be claimed.
    found = Attachment.objects.filter(pk__in=unique, event__isnull=True, uploaded_by=uploader)
    if found.count() != len(unique):
        raise Invalid({"attachments": "unknown or already used attachment ids"})
    found.update(event=event)


def _announce(event: Event, route: routing.Route) -> None:
    key = f"{event.pk}:1"
    sla.notify(event, "event.new", f"unit:{route.receiving_centre.code}", key=f"{key}:centre")
    if route.notify_township:
        sla.notify(
            event,
            "event.new_urgent_at_county",
            f"unit:{route.township_centre.code}",
            key=f"{key}:township",
        )


def duplicate_candidates(event: Event) -> list[str]:
    """Open reports of the same category within 50 m and 24 h, for the operator to merge."""
    if event.category_id is None:
        return []
    mx, my = metres_per_degree(event.lat)
    dlon, dlat = DUPLICATE_RADIUS_M / mx, DUPLICATE_RADIUS_M / my
    since = event.reported_at - DUPLICATE_WINDOW
    open_states = [s.value for s in sorted(OPEN)]
    marks = ", ".join(["%s"] * len(open_states))
    # run on every report: a fixed statement (core.sql); the event is not saved yet
    near = sql.fetch(
        f"SELECT code, lon, lat FROM {sql.table(Event)} "  # noqa: S608 - our names only
        "WHERE category_id = %s AND reported_at >= %s AND lat BETWEEN %s AND %s "
        f"AND lon BETWEEN %s AND %s AND state IN ({marks}) LIMIT 20",
        [
            event.category_id,
            Event._meta.get_field("reported_at").get_db_prep_value(since, connection),
            event.lat - dlat,
            event.lat + dlat,
            event.lon - dlon,
            event.lon + dlon,
            *open_states,
        ],
    )
    from gridgov.geo.crs import distance_m

    return [
        code
        for code, lon, lat in near
        if distance_m(lon, lat, event.lon, event.lat) <= DUPLICATE_RADIUS_M
    ]
