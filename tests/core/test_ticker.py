from __future__ import annotations

import pytest

from gridgov.core import audit, ticker
from gridgov.core.models import Heartbeat

pytestmark = pytest.mark.django_db


def test_tick_beats_and_anchors_only_when_the_chain_grew() -> None:
    from django.db import transaction

    with transaction.atomic():
        audit.record("test.one")
    first = ticker.tick()
    assert first["audit_anchor"] == 1
    assert ticker.tick()["audit_anchor"] == 0  # nothing new: no duplicate anchor
    assert Heartbeat.objects.get(name="ticker").detail["audit_anchor"] == 0
    from gridgov.core import anchors

    assert len(anchors.read()) == 1


def test_a_failing_job_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(now: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(ticker.JOBS, "broken", broken)
    done = ticker.tick()
    assert done["broken"] == -1 and "audit_anchor" in done


def test_outbox_keys_make_a_retried_change_queue_once() -> None:
    from django.db import transaction

    from gridgov.core import outbox
    from gridgov.core.models import Outbox

    with transaction.atomic():
        outbox.enqueue("t", "user:1", {"a": 1}, key="event-x:3:topic")
        outbox.enqueue("t", "user:1", {"a": 2}, key="event-x:3:topic")
        outbox.enqueue("t", "user:1", {"a": 3})
    assert Outbox.objects.filter(topic="t").count() == 2
    assert Outbox.objects.get(topic="t", payload={"a": 1}).recipient == "user:1"
