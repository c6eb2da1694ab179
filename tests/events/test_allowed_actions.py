"""What may I do here? ``allowed_actions`` lists an action exactly when the engine lets that user
take it; actions are idempotent with a key (issue 7)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.core.errors import ServiceError
from gridgov.events import services
from gridgov.events.models import TimelineEntry
from gridgov.events.services import Input
from gridgov.events.workflow import PERSON_ACTIONS

from .. import personas
from ..eventbuilder import in_state, worker
from ..helpers import act, client, ok
from .test_rules import ALLOWED

pytestmark = pytest.mark.django_db

STATES = ["reported", "verifying", "registered", "dispatched", "in_progress", "returned"]
STATES += ["suspended", "awaiting_check", "closed", "archived", "rejected", "merged", "cancelled"]
# Posts around Huiwen grid 8 and beyond it, as personas (tests/personas.py).
USERS: dict[str, Callable[[], Any]] = {
    "township operator": personas.township_operator,
    "township leader": personas.township_leader,
    "county operator": personas.county_operator,
    "county leader": personas.county_leader,
    "grid worker": personas.grid_worker,
    "grid leader": personas.grid_leader,
    "city department handler": personas.department_handler,
    "city analyst": personas.city_analyst,
    "another township's operator": lambda: personas.township_operator("130131102"),
    "township mediator": personas.mediator,
}


class Rollback(Exception):
    pass


def engine_lets(event_pk: Any, action: str, who: Any, inp: Any) -> bool:
    """Whether the engine takes the action (tried inside a savepoint that is rolled back)."""
    try:
        with transaction.atomic():
            services.act(event_pk, action, who, inp)
            raise Rollback
    except Rollback:
        return True
    except ServiceError:
        return False


def valid_inputs(parent_code: str) -> dict[str, Input]:
    """A valid input for every action people take, with no side effects."""
    found = {a: given for a, (_who, given) in ALLOWED.items() if not callable(given)}
    found["merge"] = Input(parent=parent_code)
    found.update(approve_extension=Input(), approve_suspension=Input())
    found.update(deny_extension=Input(reason="不同意"), deny_suspension=Input(reason="不同意"))
    return found


def maybe_pending(event: Any, kind: str | None) -> None:
    """A pending extension or suspension request, where the state allows one."""
    if kind is None:
        return
    args = {"amount": 1, "unit": "wh"} if kind == "extension" else {}
    with contextlib.suppress(ServiceError):
        services.act(event.pk, f"request_{kind}", worker(), Input(reason="需要", **args))


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    state=st.sampled_from(STATES),
    username=st.sampled_from(sorted(USERS)),
    pending=st.sampled_from([None, "extension", "suspension"]),
)
def test_an_action_is_listed_exactly_when_the_engine_takes_it(
    state: str, username: str, pending: str | None
) -> None:
    personas.reset()  # each example rolls its people back with everything else
    with transaction.atomic():
        inputs = valid_inputs(in_state("registered").code)
        event = in_state(state)
        maybe_pending(event, pending)
        who = USERS[username]()
        listed = {a["action"] for a in services.allowed_actions(event, who, with_choices=False)}
        for action in PERSON_ACTIONS:
            taken = engine_lets(event.pk, action, who, inputs[action])
            assert taken == (action in listed), (action, state, username, pending)
        transaction.set_rollback(True)


def test_the_detail_carries_the_callers_actions_with_inputs_and_choices() -> None:
    event = in_state("registered")
    detail = ok(client(personas.township_operator()).get(f"/api/v1/events/{event.code}"))
    actions = {a["action"]: a for a in detail["actions"]}
    assert {"dispatch", "merge", "escalate", "supervise"} <= set(actions)
    assert actions["dispatch"]["label"] == "派遣"
    inputs = {i["name"]: i for i in actions["dispatch"]["inputs"]}
    grids = {c["value"] for c in inputs["target_grid"]["choices"]}
    assert event.grid_code in grids and all(g.startswith("130104008") for g in grids)
    units = {c["value"] for c in inputs["target_unit"]["choices"]}
    assert "C130104008" in units and "C1301" not in units
    worker = ok(client(personas.grid_worker()).get(f"/api/v1/events/{event.code}"))
    assert worker["actions"] == []  # a grid worker sees the event but has nothing to do yet


def test_an_action_replayed_with_one_key_writes_one_timeline_row() -> None:
    event = in_state("registered")
    c = client(personas.township_operator())
    key = str(uuid.uuid4())
    first = c.post(
        f"/api/v1/events/{event.code}/dispatch", {"client_id": key}, content_type="application/json"
    )
    assert first.status_code == 200
    for _ in range(3):
        again = c.post(
            f"/api/v1/events/{event.code}/dispatch",
            {"client_id": key},
            content_type="application/json",
        )
        assert again.status_code == 200 and again.content == first.content
    assert TimelineEntry.objects.filter(event=event, action="dispatch").count() == 1
    changed = c.post(
        f"/api/v1/events/{event.code}/dispatch",
        {"client_id": key, "note": "换个说法"},
        content_type="application/json",
    )
    assert changed.status_code == 409
    header = act(c, event.code, "sign")  # without a key: an ordinary action
    assert header.status_code == 403  # (an operator does not sign; the grid worker does)
    sign_key = str(uuid.uuid4())
    w = client(personas.grid_worker())
    signed = [
        w.post(
            f"/api/v1/events/{event.code}/sign",
            {},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=sign_key,
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in signed] == [200, 200, 200]
    assert TimelineEntry.objects.filter(event=event, action="sign").count() == 1


def test_a_key_belongs_to_its_caller() -> None:
    event = in_state("registered")
    key = str(uuid.uuid4())
    body = {"client_id": key, "reason": "需区级协调"}
    url = f"/api/v1/events/{event.code}/escalate"
    assert (
        client(personas.township_operator())
        .post(url, body, content_type="application/json")
        .status_code
        == 200
    )
    # another operator's same key is their own action: refused on its merits, not replayed
    r = client(personas.township_leader()).post(url, body, content_type="application/json")
    assert r.status_code == 403  # the event is at county level now
