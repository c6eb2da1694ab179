"""The outbox: queue messages with the change that causes them; deliver them at least once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import Notification, Outbox

log = logging.getLogger(__name__)

Deliver = Callable[[Outbox], None]
ADAPTERS: dict[str, Deliver] = {}
# Channels a sender of their own delivers in batches (the upper-level exchange): their rows are
# queued with no next_attempt_at, so deliver_due never picks them up.
BATCHED: set[str] = set()
BATCH = 200
MAX_BACKOFF = timedelta(hours=1)


def enqueue(
    topic: str,
    recipient: str,
    payload: dict[str, Any],
    channel: str = Outbox.Channel.INAPP,
    key: str | None = None,
) -> Outbox:
    """Queue one message; call inside the transaction that makes the change.
    ``key`` makes the id deterministic so a retried change cannot queue the message twice."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox.enqueue must run inside the transaction it belongs to")
    msg_id = uuid.uuid5(uuid.NAMESPACE_URL, key) if key else uuid.uuid4()
    now = timezone.now()
    msg, _ = Outbox.objects.get_or_create(
        id=msg_id,
        defaults={
            "channel": channel,
            "topic": topic,
            "recipient": recipient,
            "payload": payload,
            "created_at": now,
            "next_attempt_at": None if channel in BATCHED else now,
        },
    )
    return msg


def adapter(channel: str) -> Callable[[Deliver], Deliver]:
    def register(fn: Deliver) -> Deliver:
        ADAPTERS[channel] = fn
        return fn

    return register


@adapter(Outbox.Channel.INAPP)
def deliver_inapp(msg: Outbox) -> None:
    try:
        with transaction.atomic():
            Notification.objects.create(
                outbox_id=msg.id,
                recipient=msg.recipient,
                topic=msg.topic,
                payload=msg.payload,
                created_at=timezone.now(),
            )
    except IntegrityError:
        pass  # delivered before (a crash between delivery and marking): dedup by id


def deliver_due(now: datetime) -> int:
    """Deliver up to BATCH due messages; failures back off exponentially."""
    due = list(
        Outbox.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=now).order_by(
            "next_attempt_at"
        )[:BATCH]
    )
    done = 0
    for msg in due:
        fn = ADAPTERS.get(msg.channel)
        try:
            if fn is None:
                raise RuntimeError(f"no adapter for channel {msg.channel}")
            fn(msg)
        except Exception as exc:
            backoff = min(timedelta(seconds=30 * 2**msg.attempts), MAX_BACKOFF)
            Outbox.objects.filter(pk=msg.pk, delivered_at__isnull=True).update(
                attempts=msg.attempts + 1, next_attempt_at=now + backoff, last_error=str(exc)[:200]
            )
            log.warning("outbox %s failed: %s", msg.pk, exc)
            continue
        # compare-and-set: with two tickers only one marks it (the receiver dedups anyway)
        done += Outbox.objects.filter(pk=msg.pk, delivered_at__isnull=True).update(
            delivered_at=timezone.now(), attempts=msg.attempts + 1
        )
    return done
