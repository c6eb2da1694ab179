"""The outbox: queue messages with the change that causes them; deliver them at least once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import sql
from .models import Notification, Outbox

log = logging.getLogger(__name__)

Deliver = Callable[[Outbox], None]
ADAPTERS: dict[str, Deliver] = {}
# Channels a sender of their own delivers in batches (the upper-level exchange): their rows are
# queued with no next_attempt_at, so deliver_due never picks them up.
BATCHED: set[str] = set()
BATCH = 200
_pending: ContextVar[list[Outbox] | None] = ContextVar("outbox_pending", default=None)
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
    msg = Outbox(
        id=msg_id,
        channel=channel,
        topic=topic,
        recipient=recipient,
        payload=payload,
        created_at=now,
        next_attempt_at=None if channel in BATCHED else now,
    )
    pending = _pending.get()
    if pending is not None:
        pending.append(msg)  # written with the rest of the batch
        return msg
    # one statement; a message queued already under this key stays as it was
    if not sql.insert(msg, on_conflict="(id)"):
        return Outbox.objects.get(id=msg_id)
    return msg


@contextmanager
def batched() -> Iterator[None]:
    """Collect what ``enqueue`` queues inside the block and write it in one statement at its
    end, still in the caller's transaction (the ticker's batches queue thousands)."""
    token = _pending.set([])
    try:
        yield
        msgs = _pending.get() or []
    finally:
        _pending.reset(token)
    sql.insert_many(msgs, on_conflict="(id)")


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
