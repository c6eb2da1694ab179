"""The child's sender, without a parent: numbering, batches, the per-message outbox left out,
a misconfiguration shown in the backlog, and the command that shows it."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from gridgov.channels.exchange import queries, sender
from gridgov.channels.exchange.models import Node, Outgoing, SendState
from gridgov.core import outbox
from gridgov.core.models import Outbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(settings: Any) -> None:
    settings.EXCHANGE_PARENT_URL = "http://127.0.0.1:9/exchange/v1"
    settings.EXCHANGE_NODE = "130100"
    settings.EXCHANGE_SECRET = "k"


def queue(n: int, size: int = 10) -> list[Outbox]:
    with transaction.atomic():
        return [
            outbox.enqueue(
                "event.changed",
                "parent",
                {"n": i, "pad": "x" * size},
                channel=Outbox.Channel.EXCHANGE,
                key=f"exchange:t:{i}",
            )
            for i in range(n)
        ]


def test_items_are_numbered_once_in_the_order_they_were_queued(parent: None) -> None:
    msgs = queue(5)
    assert sender.sequence() == 5
    assert sender.sequence() == 0
    numbered = list(Outgoing.objects.order_by("seq").values_list("seq", "outbox_id"))
    assert numbered == [(i + 1, m.pk) for i, m in enumerate(msgs)]
    assert SendState.objects.get().last_seq == 5


def test_numbering_stops_a_window_ahead_of_the_parent(parent: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(sender, "WINDOW", 3)
    queue(5)
    assert sender.sequence() == 3
    assert sender.sequence() == 0
    SendState.objects.update(acked_seq=2)
    assert sender.sequence() == 2


def test_a_batch_is_bounded_by_items_and_bytes(parent: None, settings: Any) -> None:
    queue(10, size=1000)
    sender.sequence()
    settings.EXCHANGE_BATCH = 4
    assert [seq for seq, _ in sender.next_batch(0)] == [1, 2, 3, 4]
    settings.EXCHANGE_BATCH_BYTES = 2500
    assert [seq for seq, _ in sender.next_batch(2)] == [3, 4]
    settings.EXCHANGE_BATCH_BYTES = 10
    assert [seq for seq, _ in sender.next_batch(2)] == [3]  # always one


def test_the_per_message_outbox_leaves_exchange_items_alone(parent: None) -> None:
    [msg] = queue(1)
    assert outbox.deliver_due(timezone.now() + timedelta(days=1)) == 0
    msg.refresh_from_db()
    assert (msg.delivered_at, msg.attempts, msg.last_error) == (None, 0, "")


def test_items_deleted_by_hand_are_passed_over(parent: None) -> None:
    msgs = queue(3)
    sender.sequence()
    Outbox.objects.filter(pk__in=[m.pk for m in msgs]).delete()
    assert sender.push(timezone.now()) == 0
    st = SendState.objects.get()
    assert (st.acked_seq, st.last_error) == (3, "")


def test_a_missing_key_is_an_error_in_the_backlog_and_backs_off(
    parent: None, settings: Any
) -> None:
    settings.EXCHANGE_SECRET = ""
    queue(2)
    now = timezone.now()
    assert sender.push(now) == 0
    b = queries.backlog()
    assert b["undelivered"] == 2 and b["oldest_age_s"] is not None
    assert "GRIDGOV_EXCHANGE_SECRET" in b["last_error"]
    assert b["retry_at"] == now + timedelta(seconds=5)
    assert Outbox.objects.filter(attempts=1).count() == 2


def test_status_shows_the_backlog(parent: None) -> None:
    queue(3)
    sender.push(timezone.now())  # nobody listens on port 9
    out = io.StringIO()
    call_command("exchange", "status", stdout=out)
    text = out.getvalue()
    assert "undelivered: 3" in text
    assert "sequence: 0 confirmed of 3 numbered" in text
    assert "127.0.0.1:9" in text  # the last error
    assert "next try" in text


def test_node_add_prints_the_key_last_and_revoke_refuses_it() -> None:
    out = io.StringIO()
    call_command("exchange", "node", "add", "130100", "--name", "石家庄市", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    node = Node.objects.get(code="130100")
    assert node.secret == key and node.active and node.name == "石家庄市"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="registered"):
        call_command("exchange", "node", "add", "130100", stdout=io.StringIO())
    call_command("exchange", "node", "revoke", "130100", stdout=io.StringIO())
    assert not Node.objects.get(code="130100").active
    with pytest.raises(CommandError, match="no active node"):
        call_command("exchange", "node", "revoke", "130100", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("exchange", "node", "add", "bad code!", stdout=io.StringIO())
