"""Reads of events, always through the caller's scope."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, cached_property
from typing import Any, cast

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role
from gridgov.accounts.scope import active_posts, code_range, restrict
from gridgov.core import scope as core_scope
from gridgov.core import sql

from .models import Attachment, Event, TimelineEntry
from .states import State

S = State
CASE_NUMBER = re.compile(r"[A-Za-z0-9]{1,24}")

# The work lists' tabs: which states each holds (the console's queue and the handlers' inbox).
QUEUE_TABS: dict[str, tuple[Any, tuple[State, ...]]] = {
    "intake": (_("To accept"), (S.REPORTED, S.VERIFYING)),
    "dispatch": (_("To dispatch"), (S.REGISTERED, S.RETURNED)),
    "handling": (_("Being handled"), (S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED)),
    "check": (_("To check"), (S.AWAITING_CHECK,)),
    "closed": (_("Closed"), (S.CLOSED, S.ARCHIVED)),
}
# The inbox's tabs hold what was sent to the person (their unit, their grids), except the
# checks, which fall to whoever covers the grid and did not handle it.
INBOX_ASSIGNED = frozenset({"sign", "handle", "done"})
INBOX_TABS: dict[str, tuple[Any, tuple[State, ...]]] = {
    "sign": (_("To sign for"), (S.DISPATCHED,)),
    "handle": (_("To handle"), (S.IN_PROGRESS, S.SUSPENDED)),
    "check": (_("To verify or check"), (S.VERIFYING, S.AWAITING_CHECK)),
    "done": (_("Handled"), (S.RETURNED, S.CLOSED, S.ARCHIVED)),
}


def events(
    user: Any,
    action: str = "list",
    *,
    state: str = "",
    category: str = "",
    under: str = "",
    supervision: str = "",
    q: str = "",
    ordered: bool = False,
) -> QuerySet[Event]:
    """Events in the caller's scope, filtered, newest first. ``ordered``: for reading a page
    of them, not for counting (core.scope.indexed)."""
    qs = restrict(Event.objects.all(), user, action, ordered=ordered).select_related(
        "category", "receiving_centre", "assignee_unit"
    )
    if state:
        qs = qs.filter(state__in=state.split(","))
    if category:
        qs = qs.filter(category__code__startswith=category)
    if under:
        qs = qs.filter(code_range("grid_code", under, indexed=core_scope.indexed(under, ordered)))
    if supervision:
        qs = qs.filter(supervision=supervision)
    if q:
        qs = qs.filter(Q(title__contains=q) | Q(code=q) | Q(address__contains=q))
    return qs.order_by("-reported_at")


EVENT_RELATED = ("category", "receiving_centre", "assignee_unit", "parent")


def event(user: Any, event_id: Any, action: str = "view") -> Event | None:
    """One event by UUID or case number, if ``user`` may ``action`` it (else None → 404). Its
    scoped SQL is compiled once per scope and kind of key (every page and action loads one)."""
    ((name, value),) = event_key(event_id).items()
    if name == "pk__in":
        return None  # not a key an event can have

    def build(given: list[Any]) -> QuerySet[Event]:
        qs = restrict(Event.objects.all(), user, action).select_related(*EVENT_RELATED)
        return qs.filter(**{name: given[0]}).order_by("pk")[:1]

    field = Event._meta.pk if name == "pk" else Event._meta.get_field(name)
    key = ("events.event", core_scope.signature(Event, user, action), name)
    found = sql.fetch_objects(key, build, [value], cast(Any, field))
    return found[0] if found else None


def in_scope(user: Any, event: Event, action: str = "view") -> bool:
    """Whether ``user`` may ``action`` an event already in hand: the scope filter on its case
    number, its SQL compiled once per scope (an event page asks it for viewing and unmasking)."""
    if user is None or not event.code:
        return False

    def build(code: list[str]) -> QuerySet[Any]:
        return restrict(Event.objects.filter(code=code[0]), user, action).values_list("pk")[:1]

    key = ("events.in_scope", core_scope.signature(Event, user, action))
    return bool(sql.fetch_compiled(key, build, [event.code]))


def timeline(user: Any, action: str = "view") -> QuerySet[TimelineEntry]:
    """Timeline entries, scoped like their events: only those of events ``user`` may see."""
    visible = restrict(Event.objects.all(), user, action).values("pk")
    return TimelineEntry.objects.filter(event__in=visible)


def event_any(event_id: Any) -> Event | None:
    """One event whoever asks: for the reporter (by the receipt's secret) and the platform."""
    qs = Event.objects.select_related("category", "receiving_centre", "assignee_unit", "parent")
    return qs.filter(**event_key(event_id)).first()


def visible_codes(user: Any, codes: list[str], action: str = "view") -> list[str]:
    """The case numbers among ``codes`` that ``user`` may ``action`` (none for the public)."""
    if not codes or user is None:
        return []

    def build(given: list[str]) -> QuerySet[Any]:
        qs = restrict(Event.objects.filter(code__in=given), user, action)
        return qs.order_by().values_list("code")  # unordered: never a walk of an order's index

    # Asked on every report near others and on every poll: the scoped SQL is compiled once per
    # scope (core.sql) and per count of codes, padded to a power of two (a code asked twice
    # is harmless) so a scope needs at most ten statements for up to 512 codes.
    size = 1 << (len(codes) - 1).bit_length()
    key = ("events.visible_codes", core_scope.signature(Event, user, action))
    found = sql.fetch_compiled(key, build, codes + codes[-1:] * (size - len(codes)))
    seen = {code for (code,) in found}
    return [c for c in codes if c in seen]


def event_key(event_id: Any) -> dict[str, Any]:
    """Events are addressed by UUID or by case number."""
    if isinstance(event_id, uuid.UUID):
        return {"pk": event_id}
    try:
        return {"pk": uuid.UUID(str(event_id))}
    except ValueError:
        pass
    code = str(event_id)
    # A case number is letters and digits; anything else (a NUL, which PostgreSQL refuses in
    # text) matches no event rather than reaching the database.
    return {"code": code} if CASE_NUMBER.fullmatch(code) else {"pk__in": []}


@dataclass(frozen=True)
class Filters:
    """A work list's filters, each optional (already validated by the page's form)."""

    category: str = ""
    channel: str = ""
    under: str = ""  # a region or grid code: everything inside it
    urgency: str = ""
    overdue: bool = False
    supervised: bool = False
    since: date | None = None
    until: date | None = None
    q: str = ""


def _day_start(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min))


def filtered(
    qs: QuerySet[Event], f: Filters, now: datetime | None = None, ordered: bool = False
) -> QuerySet[Event]:
    if f.category:
        qs = qs.filter(category__code__startswith=f.category)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.under:
        under = core_scope.indexed(f.under, ordered)
        qs = qs.filter(code_range("grid_code", f.under, indexed=under))
    if f.urgency:
        qs = qs.filter(urgency=f.urgency)
    if f.overdue:
        qs = qs.filter(due_at__lt=now or timezone.now())
    if f.supervised:  # flagged by the clock (yellow/red) or urged by someone (催办/督办)
        qs = qs.exclude(Q(supervision="") & Q(urge_level=""))
    if f.since:
        qs = qs.filter(reported_at__gte=_day_start(f.since))
    if f.until:
        qs = qs.filter(reported_at__lt=_day_start(f.until + timedelta(days=1)))
    if f.q:
        qs = qs.filter(
            Q(code=f.q)
            | Q(title__contains=f.q)
            | Q(description__contains=f.q)
            | Q(address__contains=f.q)
        )
    return qs


# Counts above these are shown as "10000+" (work) and "1000+" (history): counting a township's
# whole history on every page would cost more than the page itself.
COUNT_CAP = 10_000
HISTORY_COUNT_CAP = 1_000


class WorkList:
    """One tab of a work list, read state by state and merged: each state's rows come in order
    from an index on (state, …) and only the first offset+limit of each are read, so a tab
    holding most of a township's million events still answers quickly. Paginator-compatible."""

    def __init__(
        self,
        qs: QuerySet[Event] | Callable[[], QuerySet[Event]],
        states: list[str],
        order: list[str],
        cap: int = COUNT_CAP,
        in_order: QuerySet[Event] | Callable[[], QuerySet[Event]] | None = None,
        key: tuple[Any, ...] | None = None,
        related: tuple[str, ...] | None = None,
    ) -> None:
        self.states, self.order, self.cap = states, order, cap
        # The objects a page's rows are read with (select_related); None: as ``qs`` reads them.
        self.related = related
        # The querysets may be given as functions that build them: a list whose statements are
        # kept (``key``) builds them only for a statement not kept yet.
        self._qs, self._in_order = qs, in_order
        # What fixes every value of this list's SQL (scope, filters, tab), if anything does:
        # its statements are then compiled once and kept (core.sql.fetch_kept).
        self.key = key
        self.counted: int | None = None

    @cached_property
    def qs(self) -> QuerySet[Event]:
        return self._qs if isinstance(self._qs, QuerySet) else self._qs()

    @cached_property
    def in_order(self) -> QuerySet[Event]:
        """The same rows, for reading them in order (core.scope.indexed); qs counts them. Not
        named "ordered": Paginator reads that attribute as a flag (and would load every row)."""
        given = self._in_order
        if given is None:
            return self.qs
        return given if isinstance(given, QuerySet) else given()

    def count(self) -> int:
        """At most ``cap`` + 1. Selecting only the state lets both scope indexes answer alone
        (id would mean a table lookup per row: 8× slower on SQLite)."""
        if self.counted is None:
            if self.key is None:
                self.counted = self._counted_rows().count()
            else:
                self.counted = sql.count_kept(*self.count_kept())
        return self.counted

    def count_kept(self) -> tuple[tuple[Any, ...], Callable[[], QuerySet[Any]]]:
        """The key and builder of this list's kept count (only for a list with a ``key``)."""
        assert self.key is not None
        return (*self.key, tuple(self.states), self.cap), self._counted_rows

    def _counted_rows(self) -> QuerySet[Any]:
        found = self.qs.filter(state__in=self.states).order_by().values("state")
        return found[: self.cap + 1]

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[Event]:
        start, stop = index.start or 0, index.stop or 0
        order = self._order_by()
        # Sort narrow rows (the key columns), then load the page's events in full.
        keys = [n.lstrip("-") for n in self.order]
        found: list[tuple[Any, ...]] = []
        for state in self.states:

            def narrow(state: str = state) -> QuerySet[Any]:
                rows = self.in_order.filter(state=state).order_by(*order)
                return rows.values_list("pk", *keys)[:stop]

            if self.key is None:
                found += list(narrow())
            else:
                found += sql.fetch_kept((*self.key, state, tuple(self.order), stop), narrow)
        found.sort(key=lambda row: self._key(dict(zip(keys, row[1:], strict=True))))
        page = [row[0] for row in found[start:stop]]
        # By primary key alone (the ids come from the scoped reads above), with the list's
        # related objects: the scope's ranges compiled again would cost more than the read.
        if self.related is None:
            by_pk = Event.objects.all()
            by_pk.query.select_related = self.qs.query.select_related
            loaded = by_pk.in_bulk(page)
        else:
            related = self.related

            def build(ids: list[Any]) -> QuerySet[Event]:
                return Event.objects.filter(pk__in=ids).select_related(*related)

            key = ("events.page", related)
            rows = sql.fetch_objects(key, build, page, cast(Any, Event._meta.pk))
            loaded = {e.pk: e for e in rows}
        return [loaded[pk] for pk in page]

    def iterate(self, limit: int, chunk: int = 2000) -> Iterator[Event]:
        """Every row of the list in the list's order, read in chunks (a server-side cursor on
        PostgreSQL): for exports, which must not hold a city's history in memory."""
        order = self._order_by()
        rows = self.in_order.filter(state__in=self.states).order_by(*order)[:limit]
        return rows.iterator(chunk_size=chunk)

    def _order_by(self) -> list[Any]:
        # Missing values (a suspended step has no deadline) sort last, in SQL as in Python.
        return [
            F(n[1:]).desc(nulls_last=True) if n.startswith("-") else F(n).asc(nulls_last=True)
            for n in self.order
        ]

    def _key(self, values: dict[str, Any]) -> tuple[Any, ...]:
        key: list[Any] = []
        for name in self.order:
            value = values[name.lstrip("-")]
            key.append((value is None, _Desc(value) if name.startswith("-") else value))
        return tuple(key)


class _Desc:
    """Reverses the order of a value inside a sort key."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.value > other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


# Work first (urgent on top, then the soonest due, then the oldest); history newest first.
WORK_ORDER = ["-urgency", "due_at", "reported_at"]
HISTORY_ORDER = ["-reported_at"]
HISTORY_TABS = frozenset({"closed", "done"})


def assigned_to(user: Any) -> Q:
    """Events sent to the person: to the unit of a department post, to the grids of a grid
    worker's or grid leader's post."""
    found = Q(pk__in=[])
    for post in active_posts(user):
        if post.role == Role.DEPT_HANDLER:
            found |= Q(assignee_unit_id=post.org_unit_id)
        elif post.role in (Role.GRID_WORKER, Role.GRID_LEADER):
            found |= code_range("assignee_grid", post.scope_code)
    return found


def _tab_rows(
    user: Any, tabs: dict[str, Any], tab: str, f: Filters, ordered: bool = False
) -> QuerySet[Event]:
    qs = filtered(restrict(Event.objects.all(), user, "list", ordered=ordered), f, None, ordered)
    if tabs is INBOX_TABS and tab in INBOX_ASSIGNED:
        qs = qs.filter(assigned_to(user))
    return qs


def work_list(
    user: Any,
    tabs: dict[str, tuple[Any, tuple[State, ...]]],
    tab: str,
    f: Filters,
    counted: int | None = None,
) -> WorkList:
    """One tab of a work list in the caller's scope, filtered (``counted``: its count, if
    already known)."""
    states = [s.value for s in tabs[tab][1]]

    related = ("category", "assignee_unit")

    def rows(ordered: bool) -> QuerySet[Event]:
        return _tab_rows(user, tabs, tab, f, ordered=ordered).select_related(*related)

    history = tab in HISTORY_TABS
    order = HISTORY_ORDER if history else WORK_ORDER
    cap = HISTORY_COUNT_CAP if history else COUNT_CAP
    key = _list_key(user, tabs, tab, f)
    work = WorkList(lambda: rows(False), states, order, cap, lambda: rows(True), key, related)
    work.counted = counted
    return work


def tab_counts(
    user: Any, tabs: dict[str, tuple[Any, tuple[State, ...]]], f: Filters
) -> dict[str, int]:
    """How many events each tab holds under the same scope and filters (at most its cap + 1);
    the kept counts of all tabs in one statement."""
    lists = {
        tab: WorkList(
            lambda tab=tab: _tab_rows(user, tabs, tab, f),  # type: ignore[misc]
            [s.value for s in states],
            [],
            cap_of(tab),
            key=_list_key(user, tabs, tab, f),
        )
        for tab, (_, states) in tabs.items()
    }
    kept = [tab for tab, work in lists.items() if work.key is not None]
    found = dict(zip(kept, sql.count_kept_many([lists[t].count_kept() for t in kept]), strict=True))
    return {tab: found[tab] if tab in found else work.count() for tab, work in lists.items()}


def _list_key(
    user: Any, tabs: dict[str, tuple[Any, tuple[State, ...]]], tab: str, f: Filters
) -> tuple[Any, ...] | None:
    """What fixes every value in the SQL of a tab's reads: the scope's signature, the filters
    and, for a tab of one's own work, one's posts. None when a value changes by itself (the
    overdue filter compares with now): such a list is compiled on every read."""
    if f.overdue:
        return None
    own: tuple[Any, ...] = ()
    if tabs is INBOX_TABS and tab in INBOX_ASSIGNED:
        own = tuple((p.role, p.org_unit_id, p.scope_code) for p in active_posts(user))
    signature = core_scope.signature(Event, user, "list")
    return ("events.work_list", signature, f, tabs is INBOX_TABS, tab, own)


def cap_of(tab: str) -> int:
    return HISTORY_COUNT_CAP if tab in HISTORY_TABS else COUNT_CAP


def latest_change() -> int:
    """The newest timeline row's id: the cursor consoles poll with (one index lookup)."""
    found = sql.fetch(_latest_sql(), [])
    return int(found[0][0]) if found else 0


@cache
def _latest_sql() -> str:
    # a fixed statement: 800 open consoles ask it every 10 s
    return f"SELECT id FROM {sql.table(TimelineEntry)} ORDER BY id DESC LIMIT 1"  # noqa: S608


@cache
def _window_sql() -> str:
    """A window of new timeline rows with what a poll shows of their events, in order."""
    t, e = sql.table(TimelineEntry), sql.table(Event)
    return (
        f"SELECT t.action, e.code, e.urgency, e.title FROM {t} t "  # noqa: S608 - our names
        f"JOIN {e} e ON e.id = t.event_id WHERE t.id > %s ORDER BY t.id LIMIT %s"
    )


# A poll reads up to this many new timeline rows one by one (four narrow columns each), and
# asks the scope about their case numbers in one statement (at most 512 of them, padded): a
# centre at 30 changes a second writes 300 rows between two polls of the same console. Beyond
# it, the window is asked by scoped queries instead (``_burst``).
WINDOW_ROWS = 500


@dataclass(frozen=True)
class Arrival:
    """An urgent report new in a poll's window: what the console rings with."""

    code: str
    title: str


@dataclass(frozen=True)
class Changes:
    """What changed after a cursor, for one caller: how many timeline rows fell in their scope
    (at least 1 when a burst was too large to read row by row) and the urgent new reports."""

    changed: int
    urgent: list[Arrival]


def changes_since(user: Any, cursor: int, limit: int = WINDOW_ROWS) -> Changes:
    """The new timeline rows are read first (a range on the primary key, with their events'
    case numbers) and only those events are put through the scope, so the cost follows what
    changed, not what the caller may see. Both are statements built once (the scope's once per
    scope): a poll is the most frequent request of a centre. A burst beyond ``limit`` rows is
    answered by scoped queries over the whole window instead, so nothing in scope is missed
    however busy the rest of the city is."""
    rows = sql.fetch(_window_sql(), [cursor, limit + 1])
    if len(rows) > limit:
        return _burst(user, cursor, any(visible_codes(user, sorted({r[1] for r in rows}), "list")))
    visible = set(visible_codes(user, sorted({code for _, code, _, _ in rows}), "list"))
    mine = [row for row in rows if row[1] in visible]
    urgent = [
        Arrival(code, title)
        for action, code, urgency, title in mine
        if action == "report" and urgency == "urgent"
    ]
    return Changes(len(mine), urgent[:10])


def _burst(user: Any, cursor: int, seen: bool) -> Changes:
    """A window too large to read row by row: the window's events by primary key from a range of
    timeline ids (subqueries), so the cost follows the window. A join from the events let the
    planners walk the whole scope, or every event in order of report (110 ms a poll with
    50,000 events)."""
    window = TimelineEntry.objects.filter(id__gt=cursor)
    touched = restrict(Event.objects.filter(pk__in=window.values("event_id")), user, "list")
    new = window.filter(action="report").values("event_id")
    arrived = touched.filter(pk__in=new, urgency="urgent").order_by("reported_at")
    # The rows read already tell a busy scope it changed. Asking the whole window (EXISTS) is
    # left for a quiet one: PostgreSQL may answer it by walking every event in scope.
    changed = 1 if seen else int(touched.exists())
    return Changes(changed, [Arrival(e.code, e.title) for e in arrived[:10]])


# ----------------------------------------------------------------------------- the field app

FIELD_TABS = ("sign", "handle", "check")
FIELD_TASKS_PER_TAB = 100
FIELD_HISTORY = 50


def field_tasks(user: Any) -> list[tuple[str, Event]]:
    """A grid worker's tasks as the phone keeps them: to sign for, to handle, to verify or
    check, each soonest due first (at most a hundred of each)."""
    found: list[tuple[str, Event]] = []
    for tab in FIELD_TABS:
        rows = work_list(user, INBOX_TABS, tab, Filters())[:FIELD_TASKS_PER_TAB]
        found.extend((tab, e) for e in rows)
    return found


def field_history(user: Any) -> list[Event]:
    """What the person reported or handled, newest first."""
    qs = restrict(Event.objects.all(), user, "list").filter(Q(reported_by=user) | Q(handler=user))
    return list(qs.select_related("category").order_by("-reported_at")[:FIELD_HISTORY])


def field_numbers(user: Any, since: datetime) -> dict[str, int]:
    """This month's own figures: reported, fixed on the spot, handled, handled in time."""
    own = Event.objects.filter(reported_at__gte=since)
    handled = Event.objects.filter(handler=user, result_at__gte=since)
    return {
        "reported": own.filter(reported_by=user).count(),
        "self_resolved": own.filter(reported_by=user, resolved_on_spot=True).count(),
        "handled": handled.count(),
        "handled_on_time": handled.filter(closed_on_time=True).count(),
    }


def attachment(user: Any, pk: Any) -> Attachment | None:
    """A photo or recording, for those who may see its event (or uploaded it, before use)."""
    att = Attachment.objects.filter(pk=pk).first()
    if att is None:
        return None
    if att.event_id is None:
        return att if att.uploaded_by_id == getattr(user, "pk", None) else None
    return att if event(user, att.event_id) is not None else None
