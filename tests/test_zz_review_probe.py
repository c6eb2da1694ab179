"""Review probes for 653f63a / 772baa4 (throwaway)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from gridgov.accounts.scope import restrict
from gridgov.core import flow, sql
from gridgov.events import queries, services
from gridgov.events.models import Approval, Event
from gridgov.events.services import EVENTS, Input

from . import personas
from .eventbuilder import in_state, leader, new_event, worker

pytestmark = pytest.mark.django_db
REL = queries.EVENT_RELATED


def orm_event(user: Any, key: Any, action: str = "view") -> Any:
    k = queries.event_key(key)
    if "pk__in" in k:
        return None
    qs = restrict(Event.objects.all(), user, action).select_related(*REL)
    return qs.filter(**k).first()


def snap(o: Any) -> Any:
    if o is None:
        return None
    d = {f.attname: getattr(o, f.attname) for f in Event._meta.concrete_fields}
    d["_db"] = (o._state.db, o._state.adding)
    for r in REL:
        f = Event._meta.get_field(r)
        cached = f.is_cached(o)
        rel = f.get_cached_value(o) if cached else "NOT CACHED"
        d[r] = (cached, None if rel is None else (type(rel).__name__, rel.pk, rel.__dict__.get("name")))
        if rel not in (None, "NOT CACHED"):
            d[r + "_state"] = (rel._state.db, rel._state.adding)
    return d


def test_event_lookup_matches_orm_for_many_users_keys_and_actions() -> None:
    a = new_event(reporter_phone="13800138000", reporter_name="张三")
    b = new_event()
    Event.objects.filter(pk=b.pk).update(parent=a)  # a parent; a has parent NULL
    users = [
        personas.township_operator(),
        personas.township_operator("130131102"),
        personas.grid_worker(),
        personas.grid_leader(),
        personas.department_handler(),
        personas.department_handler("D1301-02"),
        personas.county_operator(),
        personas.city_analyst(),
        None,
    ]
    keys: list[Any] = []
    for e in (a, b):
        keys += [e.code, e.code.lower(), e.pk, str(e.pk), str(e.pk).upper(), e.pk.hex,
                 "{" + str(e.pk) + "}", "urn:uuid:" + str(e.pk), " " + e.code]
    keys += ["SJZ\x00", "", "nonsense", 12345, uuid.uuid4(), "x" * 25]
    checked = mism = 0
    for _round in range(2):
        for u in users:
            for action in ("view", "change", "list", "export"):
                for k in keys:
                    ours, theirs = queries.event(u, k, action), orm_event(u, k, action)
                    checked += 1
                    if snap(ours) != snap(theirs):
                        mism += 1
                        print("MISMATCH", u and u.username, action, repr(k), snap(ours), snap(theirs))
    print("checked", checked, "mismatches", mism)
    assert mism == 0


def test_dept_handlers_of_two_units_same_prefix_do_not_share() -> None:
    e = in_state("dispatched")
    e.refresh_from_db()
    print("assignee_unit", e.assignee_unit_id, e.assignee_unit and e.assignee_unit.code)
    mine = personas.department_handler(e.assignee_unit.code if e.assignee_unit else "D1301-01")
    other = personas.department_handler("D1301-02")
    for _ in range(2):
        print("mine", queries.event(mine, e.code) is not None, orm_event(mine, e.code) is not None)
        print("other", queries.event(other, e.code) is not None, orm_event(other, e.code) is not None)
        assert (queries.event(mine, e.code) is None) == (orm_event(mine, e.code) is None)
        assert (queries.event(other, e.code) is None) == (orm_event(other, e.code) is None)


def test_pending_once_equals_fresh_guards() -> None:
    e = in_state("in_progress")
    services.act(e.pk, "request_extension", worker(), Input(reason="需协调", amount=2, unit="h"))
    e = Event.objects.get(pk=e.pk)
    for u in (worker(), leader(), personas.township_operator()):
        listed = [a["action"] for a in services.allowed_actions(e, u)]
        fresh = [a["action"] for a in flow.allowed(EVENTS, e, u)]
        print(u.username, listed)
        assert listed == fresh
    assert services._listing.get() is None


def test_extra_approval_query_when_no_guard_asks() -> None:
    e = new_event()  # reported: no approval guard applies
    stranger = personas.township_operator("130131102")
    for who, u in (("operator", personas.township_operator()), ("stranger", stranger)):
        with CaptureQueriesContext(connection) as before:
            flow.allowed(EVENTS, e, u)
        with CaptureQueriesContext(connection) as after:
            services.allowed_actions(e, u)
        n0 = sum('"events_approval"' in q["sql"] for q in before.captured_queries)
        n1 = sum('"events_approval"' in q["sql"] for q in after.captured_queries)
        print(who, "approval queries: fresh guards", n0, "allowed_actions", n1,
              "total", len(before.captured_queries), len(after.captured_queries))


def test_filter_fragment_entry_size() -> None:
    from gridgov.console import forms

    forms._shown.found.clear()
    pad = " " * 3500
    f = forms.FilterForm(QueryDict(f"q=x{pad}&since=2024-01-01{' ' * 200}"))
    print("valid", f.is_valid(), f.errors)
    html = f.shown_fields()
    key = next(iter(forms._shown.found))
    print("html bytes", len(html), "key repr bytes", len(repr(key)))
    many = forms.FilterForm(QueryDict("&".join(["q=a"] * 400)))
    print("many valid", many.is_valid(), len(many.shown_fields()))


def test_concurrent_threads_share_kept_populators() -> None:
    a = new_event()
    u = personas.township_operator()
    want = snap(queries.event(u, a.code))
    errors: list[Any] = []
    # the kept template is shared; each thread uses its own connection, which on a file
    # database cannot see this test's uncommitted rows: so only the shared path is exercised
    # for absence (None) here, and the populators from the main thread.
    found = [queries.event(u, a.code) for _ in range(50)]
    assert all(snap(x) == want for x in found)
    print("ok", len(errors))
