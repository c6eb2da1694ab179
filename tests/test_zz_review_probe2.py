from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.core import flow
from gridgov.events import queries, services
from gridgov.events.models import Event
from gridgov.events.services import EVENTS, Input

from . import personas
from .eventbuilder import new_event, op
from .test_zz_review_probe import orm_event, snap

pytestmark = pytest.mark.django_db


def test_dept_units() -> None:
    e = new_event()
    services.act(e.pk, "accept", op(), Input())
    services.act(e.pk, "dispatch", op(), Input(target_unit="D1301-01"))
    e = Event.objects.get(pk=e.pk)
    print("assignee", e.assignee_unit and e.assignee_unit.code)
    mine = personas.department_handler("D1301-01")
    other = personas.department_handler("D1301-02")
    for _ in range(2):
        for u in (mine, other):
            for k in (e.code, e.pk):
                a, b = queries.event(u, k), orm_event(u, k)
                print(u.username, a is not None, b is not None)
                assert snap(a) == snap(b)


def test_query_counts() -> None:
    e = new_event()
    for who, u in (("operator", personas.township_operator()),
                   ("stranger", personas.township_operator("130131102"))):
        for _ in range(2):
            with CaptureQueriesContext(connection) as before:
                flow.allowed(EVENTS, e, u)
            with CaptureQueriesContext(connection) as after:
                services.allowed_actions(e, u)
            print(who, len(before.captured_queries), len(after.captured_queries))
