"""The child's sender: the ticker pushes queued items to the parent in order, in batches.

Items are core Outbox rows (channel "exchange") written with their change. The sender first
gives new ones their sequence numbers (``Outgoing``), in the order they were queued, then posts
the oldest unconfirmed ones, signed, and moves ``SendState.acked_seq`` once the parent has
answered that it holds every one of them. Everything lives in the database: after a restart of
either side the sender resends from ``acked_seq``; the parent stores each item once. A failure
waits 5 s, then twice as long each time, up to EXCHANGE_BACKOFF_MAX.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timedelta
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gridgov.analytics import rollups
from gridgov.core.models import Outbox
from gridgov.core.ticker import job

from . import items, wire
from .models import Outgoing, SendState

log = logging.getLogger(__name__)

BACKOFF_START = 5.0  # seconds
WINDOW = 2000  # items numbered ahead of the parent's confirmation at most
Batch = list[tuple[int, Outbox]]


class DeliveryError(Exception):
    """The parent did not take the batch (unreachable, refused, or an answer short of it)."""


def state() -> SendState:
    found, _ = SendState.objects.get_or_create(pk=1)
    return found


# ----------------------------------------------------------------------------- numbering


def sequence() -> int:
    """Number the queued items that have no number yet, oldest first; how many were numbered.
    The row lock makes two tickers take turns."""
    with transaction.atomic():
        state()
        st = SendState.objects.select_for_update().get(pk=1)
        room = WINDOW - (st.last_seq - st.acked_seq)
        if room <= 0:
            return 0
        fresh = list(
            Outbox.objects.filter(channel=Outbox.Channel.EXCHANGE, delivered_at__isnull=True)
            .exclude(pk__in=Outgoing.objects.values("outbox_id"))
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:room]
        )
        Outgoing.objects.bulk_create(
            Outgoing(seq=st.last_seq + n, outbox_id=pk) for n, pk in enumerate(fresh, 1)
        )
        SendState.objects.filter(pk=1).update(last_seq=st.last_seq + len(fresh))
    return len(fresh)


# ----------------------------------------------------------------------------- sending


def next_batch(after: int) -> Batch:
    """The oldest unconfirmed items, in order: at most EXCHANGE_BATCH of them and about
    EXCHANGE_BATCH_BYTES (always at least one)."""
    numbered = list(
        Outgoing.objects.filter(seq__gt=after)
        .order_by("seq")
        .values_list("seq", "outbox_id")[: settings.EXCHANGE_BATCH]
    )
    rows = Outbox.objects.in_bulk([pk for _, pk in numbered])
    batch: Batch = []
    size = 0
    for seq, pk in numbered:
        msg = rows.get(pk)
        if msg is None:
            continue  # removed from the outbox by hand: the parent will show the gap
        size += len(json.dumps(msg.payload, cls=DjangoJSONEncoder))
        if batch and size > settings.EXCHANGE_BATCH_BYTES:
            break
        batch.append((seq, msg))
    return batch


def body_of(batch: Batch) -> bytes:
    return json.dumps(
        {
            "node": settings.EXCHANGE_NODE,
            "items": [
                {
                    "id": str(msg.pk),
                    "seq": seq,
                    "kind": msg.topic,
                    "at": msg.created_at.isoformat(),
                    "data": msg.payload,
                }
                for seq, msg in batch
            ],
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
    ).encode()


def post(body: bytes) -> dict[str, Any]:
    """POST a signed batch to the parent; its answer, or DeliveryError."""
    if not (settings.EXCHANGE_NODE and settings.EXCHANGE_SECRET):
        raise DeliveryError("set GRIDGOV_EXCHANGE_NODE and GRIDGOV_EXCHANGE_SECRET")
    url = urlsplit(f"{settings.EXCHANGE_PARENT_URL}/items")
    kind = HTTPSConnection if url.scheme == "https" else HTTPConnection
    headers = wire.headers(settings.EXCHANGE_NODE, settings.EXCHANGE_SECRET, int(time.time()), body)
    conn = kind(url.hostname or "", url.port, timeout=settings.EXCHANGE_TIMEOUT)
    try:
        conn.request("POST", url.path, body, headers)
        response = conn.getresponse()
        answer = response.read(2**20)
    except OSError as exc:
        raise DeliveryError(f"{url.hostname}:{url.port}: {exc}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise DeliveryError(f"{response.status}: {answer[:200].decode(errors='replace')}")
    try:
        return dict(json.loads(answer))
    except ValueError:
        raise DeliveryError("the parent's answer is not JSON") from None


def acknowledge(batch: Batch, answer: dict[str, Any]) -> int:
    """Mark the batch delivered once the parent says it holds every item of it."""
    held = {str(r.get("id")) for r in answer.get("results", []) if isinstance(r, dict)}
    if any(str(msg.pk) not in held for _, msg in batch):
        raise DeliveryError("the parent did not confirm every item")
    now = timezone.now()
    with transaction.atomic():
        done = Outbox.objects.filter(
            pk__in=[msg.pk for _, msg in batch], delivered_at__isnull=True
        ).update(delivered_at=now, attempts=F("attempts") + 1, last_error="")
        # compare-and-set: the cursor only moves forward (two tickers, a late answer)
        SendState.objects.filter(pk=1, acked_seq__lt=batch[-1][0]).update(acked_seq=batch[-1][0])
        SendState.objects.filter(pk=1).update(failures=0, retry_at=None, last_success_at=now)
    return done


def failed(batch: Batch, exc: Exception, now: datetime) -> None:
    st = state()
    wait = min(BACKOFF_START * 2**st.failures, settings.EXCHANGE_BACKOFF_MAX)
    message = str(exc)[:300]
    SendState.objects.filter(pk=1).update(
        failures=F("failures") + 1,
        retry_at=now + timedelta(seconds=wait),
        last_error=message,
        last_error_at=timezone.now(),
    )
    Outbox.objects.filter(pk__in=[msg.pk for _, msg in batch]).update(
        attempts=F("attempts") + 1, last_error=message[:200]
    )
    log.warning("exchange: batch not delivered, next try in %.0f s: %s", wait, message)


def skip_lost(after: int) -> None:
    """A number whose outbox row is gone (deleted by hand) is passed over; the parent will
    show the gap."""
    first = Outgoing.objects.filter(seq__gt=after).order_by("seq").first()
    if first is not None and not Outbox.objects.filter(pk=first.outbox_id).exists():
        SendState.objects.filter(pk=1, acked_seq=after).update(acked_seq=first.seq)


def push_once(now: datetime) -> int:
    """Send one batch; the number of items marked delivered, -1 when it failed."""
    sequence()
    after = state().acked_seq
    batch = next_batch(after)
    if not batch:
        skip_lost(after)
        return 0
    try:
        return acknowledge(batch, post(body_of(batch)))
    except DeliveryError as exc:
        failed(batch, exc, now)
        return -1


@job("exchange")
def push(now: datetime) -> int:
    """Up to EXCHANGE_BATCHES_PER_TICK batches, while the parent takes them."""
    if not items.enabled():
        return 0
    st = state()
    if st.retry_at is not None and st.retry_at > now:
        return 0  # backing off
    sent = 0
    for _ in range(settings.EXCHANGE_BATCHES_PER_TICK):
        n = push_once(now)
        if n < 0:
            break
        sent += n
        st = state()
        if st.acked_seq >= st.last_seq:
            break
    return sent


# ----------------------------------------------------------------------------- statistics


@job("exchange_stats")
def queue_yesterday(now: datetime) -> int:
    """Yesterday's daily statistics, queued once (the item's id comes from the day)."""
    if not items.enabled():
        return 0
    local = timezone.localtime(now)
    if local.time() < items.STATS_AFTER:
        return 0
    return queue_day(local.date() - timedelta(days=1))


def queue_day(day: date) -> int:
    if Outbox.objects.filter(pk=items.item_id(f"exchange:{items.stats_key(day)}")).exists():
        return 0
    rollups.refresh(day)  # the rollups' own recomputation: DailyStat true for the day
    with transaction.atomic():
        items.queue_stats(day)
    return 1
