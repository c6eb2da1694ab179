"""The child queues its parent's items in the transaction of each change, and only then."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from gridgov.analytics.models import DailyStat
from gridgov.channels.exchange import items, sender
from gridgov.core.models import Outbox
from gridgov.events import services
from gridgov.events.models import Event
from gridgov.events.services import Input
from tests import eventbuilder as eb

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(settings: Any) -> None:
    settings.EXCHANGE_PARENT_URL = "http://127.0.0.1:9/exchange/v1"
    settings.EXCHANGE_NODE = "130100"
    settings.EXCHANGE_SECRET = "k"


def queued(kind: str | None = None) -> list[Outbox]:
    qs = Outbox.objects.filter(channel=Outbox.Channel.EXCHANGE).order_by("created_at")
    return list(qs.filter(topic=kind) if kind else qs)


def test_nothing_is_queued_without_a_parent() -> None:
    e = eb.new_event()
    services.act(e.pk, "accept", eb.op(), Input())
    assert queued() == []
    assert sender.push(timezone.now()) == 0
    assert sender.queue_yesterday(timezone.now()) == 0


def test_a_new_event_and_each_change_are_queued(parent: None) -> None:
    e = eb.new_event()
    [created] = queued(items.CREATED)
    assert created.payload["event"]["code"] == e.code
    assert created.payload["event"]["state"] == "reported"
    assert created.payload["event"]["urgency"] == "normal"
    assert created.payload["event"]["grid"] == eb.GRID8
    assert created.next_attempt_at is None  # never picked up by the per-message outbox
    services.act(e.pk, "accept", eb.op(), Input())
    services.act(e.pk, "dispatch", eb.op(), Input())
    changes = queued(items.CHANGED)
    assert [(c.payload["change"]["from"], c.payload["change"]["to"]) for c in changes] == [
        ("reported", "registered"),
        ("registered", "dispatched"),
    ]
    last = changes[-1].payload
    assert last["change"]["action"] == "dispatch"
    assert last["event"]["version"] == Event.objects.get(pk=e.pk).version
    assert last["event"]["times"]["dispatched"] is not None
    assert last["event"]["assignee"]["kind"] in {"grid", "unit"}


def test_item_ids_are_stable_so_a_retried_change_queues_nothing_twice(parent: None) -> None:
    e = eb.new_event()
    [created] = queued()
    assert created.pk == items.item_id(f"exchange:{e.pk}:1")
    with transaction.atomic():
        items.queue_created(e)  # queued again (a replay): the same row
    assert len(queued()) == 1


def test_a_rolled_back_action_leaves_no_item(parent: None) -> None:
    e = eb.new_event()
    before = len(queued())

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        services.act(e.pk, "accept", eb.op(), Input())
        assert len(queued()) == before + 1  # written inside the action's transaction
        raise Boom
    assert len(queued()) == before
    assert Event.objects.get(pk=e.pk).state == "reported"


def test_an_action_that_moves_nothing_the_parent_follows_queues_nothing(parent: None) -> None:
    e = eb.new_event()
    services.act(e.pk, "accept", eb.op(), Input())
    services.act(e.pk, "supervise", eb.op(), Input(reason="请尽快处理", level="remind"))
    n = len(queued())
    assert queued()[-1].payload["event"]["urge_level"] == "remind"  # supervision moved
    services.act(e.pk, "supervise", eb.op(), Input(reason="再次催办", level="remind"))
    assert len(queued()) == n  # the same level again: only a counter moved


def test_no_personal_data_or_free_text_leaves(parent: None) -> None:
    e = eb.new_event(
        reporter_name="张三丰",
        reporter_phone="13812345678",
        reporter_openid="oWX-secret-openid",
        title="门口堆放杂物",
        description="李四家门口堆了很多杂物",
        address="华润大厦3单元502",
    )
    services.act(e.pk, "accept", eb.op(), Input(note="电话回访了张三丰"))
    text = json.dumps([m.payload for m in queued()], ensure_ascii=False)
    for secret in (
        "张三丰",
        "13812345678",
        "5678",
        "oWX-secret-openid",
        "门口堆放杂物",
        "李四",
        "华润大厦",
        "电话回访",
        e.reporter_secret_hash,
    ):
        assert secret not in text
    event = queued()[0].payload["event"]
    assert not {"reporter", "title", "description", "address", "handler"} & set(event)
    assert event["lon"] == round(e.lon, 3) and event["lat"] == round(e.lat, 3)


def test_yesterdays_statistics_are_queued_once(parent: None) -> None:
    import time_machine

    now = timezone.make_aware(datetime(2026, 9, 4, 8, 0))
    with time_machine.travel(now - timedelta(hours=20)):
        eb.new_event(category="0202")
        eb.new_event(category="0202")
    assert sender.queue_yesterday(now) == 1
    assert sender.queue_yesterday(now + timedelta(hours=1)) == 0
    [stats] = queued(items.STATS)
    assert stats.pk == items.item_id("exchange:130100:stats:2026-09-03")
    assert stats.payload["day"] == "2026-09-03"
    [row] = stats.payload["rows"]
    assert (row["township"], row["category"], row["channel"]) == (eb.GRID8[:9], "02", "web")
    assert row["reported"] == 2
    assert stats.payload["totals"] == {"reported": 2, "closed": 0, "closed_on_time": 0}
    assert DailyStat.objects.filter(day=date(2026, 9, 3)).count() == 1  # the rollup's own rows


def test_statistics_wait_until_just_after_midnight(parent: None) -> None:
    assert sender.queue_yesterday(timezone.make_aware(datetime(2026, 9, 4, 0, 5))) == 0
    assert sender.queue_yesterday(timezone.make_aware(datetime(2026, 9, 4, 0, 11))) == 1
