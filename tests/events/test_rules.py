"""Every rule of the table, allowed from each of its source states and refused elsewhere, by the
wrong role, and without the reason it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gridgov.core.errors import Conflict, Forbidden, Invalid, NotFound
from gridgov.events import services
from gridgov.events.models import Approval, Event
from gridgov.events.services import Input
from gridgov.events.workflow import PERSON_ACTIONS, RULES, State

from ..eventbuilder import GRID8, in_state, leader, op, verifier, worker
from ..factories import user_with_post

pytestmark = pytest.mark.django_db


def merge_input(event: Event) -> Input:
    return Input(parent=in_state("registered").code)


def pending(kind: str, reason: str = "") -> Callable[[Event], Input]:
    """A pending request of ``kind``; the decision's input (a denial needs its reason)."""

    def setup(event: Event) -> Input:
        args = {"amount": 2, "unit": "wh"} if kind == "extension" else {}
        services.act(event.pk, f"request_{kind}", worker(), Input(reason="需要时间", **args))
        return Input(reason=reason)

    return setup


# action -> (who may, input or a function of the event giving the input)
ALLOWED: dict[str, tuple[Callable[[], Any], Any]] = {
    "accept": (op, Input()),
    "send_to_verify": (op, Input()),
    "confirm": (verifier, Input()),
    "refute": (verifier, Input(reason="现场未发现")),
    "reject": (op, Input(reason="非本平台受理范围")),
    "merge": (op, merge_input),
    "dispatch": (op, Input()),
    "sign": (worker, Input()),
    "visit": (worker, Input(note="到场查看，摊位仍在")),
    "return": (worker, Input(reason="属于城管职责")),
    "redispatch": (leader, Input(target_unit="D1301-01")),
    "reject_return": (leader, Input(reason="属地网格职责")),
    "close_no_action": (leader, Input(reason="无需处置")),
    "request_extension": (worker, Input(reason="需协调", amount=1, unit="wd")),
    "approve_extension": (leader, pending("extension")),
    "deny_extension": (leader, pending("extension", "不予延期")),
    "request_suspension": (worker, Input(reason="等待产权方")),
    "approve_suspension": (leader, pending("suspension")),
    "deny_suspension": (leader, pending("suspension", "不予挂账")),
    "resume": (leader, Input()),
    "report_result": (worker, Input(note="已处置完毕")),
    "verify_pass": (verifier, Input()),
    "verify_fail": (verifier, Input(reason="仍有摊位")),
    "revisit": (op, Input(satisfaction=5)),
    "reopen": (op, Input(reason="群众不满意", satisfaction=1)),
    "archive": (op, Input()),
    "escalate": (op, Input(reason="需区级协调")),
    "supervise": (op, Input(reason="督办", level="formal")),
    "reply": (op, Input(reply="已清理占道摊点，感谢监督")),
}
# action -> someone who can see the event but may not take the action
WRONG: dict[str, Callable[[], Any]] = {
    **{a: worker for a, (who, _) in ALLOWED.items() if who in (op, leader)},
    **{a: op for a, (who, _) in ALLOWED.items() if who is worker},
    "redispatch": op,
    "reject_return": op,
    "close_no_action": op,
    "approve_extension": op,
    "deny_extension": op,
    "approve_suspension": op,
    "deny_suspension": op,
    "resume": op,
}
CASES = [(a, s) for a in sorted(ALLOWED) for s in sorted(RULES[a].sources)]


def test_every_action_people_take_is_covered() -> None:
    assert set(ALLOWED) == set(PERSON_ACTIONS)
    assert set(RULES) - set(PERSON_ACTIONS) == {"cancel", "rate", "warn", "overdue", "regrid"}


def _input(action: str, event: Event) -> Input:
    given = ALLOWED[action][1]
    return given(event) if callable(given) else given


@pytest.mark.parametrize(("action", "state"), CASES)
def test_allowed(action: str, state: str) -> None:
    event = in_state(state)
    who = ALLOWED[action][0]
    inp = _input(action, event)
    before = Event.objects.get(pk=event.pk).version
    after = services.act(event.pk, action, who(), inp)
    target = RULES[action].target
    assert after.state == (target or state)
    assert after.version == before + 1
    assert after.timeline.filter(seq=after.version, action=action).exists()


def _minimal(action: str) -> Input:
    """Something for every input the action requires (it is refused before they matter)."""
    taken = {i.name for i in RULES[action].inputs}
    return Input(**{k: "x" for k in ("reason", "parent") if k in taken})


@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_refused_in_other_states(action: str) -> None:
    state = next(
        s for s in ("closed", "reported", "in_progress") if State(s) not in RULES[action].sources
    )
    event = in_state(state)
    with pytest.raises(Conflict):
        services.act(
            event.pk,
            action,
            ALLOWED[action][0](),
            _input(action, event) if not callable(ALLOWED[action][1]) else _minimal(action),
        )
    assert Event.objects.get(pk=event.pk).version == event.version


@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_refused_to_the_wrong_role(action: str) -> None:
    state = sorted(RULES[action].sources)[0]
    event = in_state(state)
    inp = _input(action, event)
    wrong = WRONG.get(action, op)
    if action in {"confirm", "refute", "verify_pass", "verify_fail"}:
        wrong = user_with_post("mediator", "130104008")  # no event permission at all → 404
        with pytest.raises(NotFound):
            services.act(event.pk, action, wrong, inp)
        return
    with pytest.raises(Forbidden):
        services.act(event.pk, action, wrong(), inp)
    assert Event.objects.get(pk=event.pk).state == state


@pytest.mark.parametrize("action", sorted(a for a, r in RULES.items() if r.needs_reason))
def test_reason_is_required(action: str) -> None:
    event = in_state(sorted(RULES[action].sources)[0])
    who = ALLOWED.get(action, (op, None))[0]
    with pytest.raises(Invalid) as err:
        services.act(event.pk, action, who(), Input())
    assert "reason" in err.value.errors


def test_foreign_operator_gets_404_not_403() -> None:
    event = in_state("reported")
    xinhua = user_with_post("operator", "130105")
    with pytest.raises(NotFound):
        services.act(event.pk, "accept", xinhua)


def test_the_handler_may_not_verify_their_own_work() -> None:
    event = in_state("awaiting_check")
    with pytest.raises(Forbidden):
        services.act(event.pk, "verify_pass", worker())


def test_verify_fail_counts_rework_and_reopens_handling() -> None:
    event = in_state("awaiting_check")
    event = services.act(event.pk, "verify_fail", verifier(), Input(reason="仍有摊位"))
    assert event.state == "in_progress" and event.rework_count == 1


def test_return_ping_pong_is_counted() -> None:
    event = in_state("returned")
    event = services.act(event.pk, "reject_return", leader(), Input(reason="属地职责"))
    event = services.act(event.pk, "return", worker(), Input(reason="仍不属于"))
    assert event.return_count == 2 and event.state == "returned"


def test_extension_moves_the_deadline_only_when_approved() -> None:
    event = in_state("in_progress")
    due = event.due_at
    event = services.act(
        event.pk, "request_extension", worker(), Input(reason="需协调", amount=2, unit="h")
    )
    assert event.due_at == due  # the old deadline runs until approved
    with pytest.raises(Conflict):  # one pending request at a time
        services.act(
            event.pk, "request_extension", worker(), Input(reason="再申请", amount=1, unit="h")
        )
    event = services.act(event.pk, "approve_extension", leader())
    assert event.due_at is not None and due is not None
    assert (event.due_at - due).total_seconds() == 7200
    assert event.extension_count == 1
    assert Approval.objects.get(event=event).status == "approved"


def test_suspension_pauses_and_resume_restarts_the_clock() -> None:
    from datetime import timedelta

    import time_machine

    event = in_state("in_progress")
    remaining = event.due_at - event.step_started_at  # type: ignore[operator]
    services.act(event.pk, "request_suspension", worker(), Input(reason="等待"))
    event = services.act(event.pk, "approve_suspension", leader())
    assert event.state == "suspended" and event.due_at is None and event.alarm_at is None
    with time_machine.travel(event.updated_at + timedelta(days=3)):
        event = services.act(event.pk, "resume", leader())
        from django.utils import timezone

        left = event.due_at - timezone.now()  # type: ignore[operator]
    # the category's 2-hour clock limit: what was left before the pause is left after it
    assert abs((left - remaining).total_seconds()) < 5


def test_grid_worker_of_another_grid_cannot_sign() -> None:
    event = in_state("dispatched")
    other = user_with_post("grid_worker", "130104008019007")
    with pytest.raises(NotFound):  # grid 7's worker does not even see grid 8's events
        services.act(event.pk, "sign", other)
    assert event.assignee_grid == GRID8
