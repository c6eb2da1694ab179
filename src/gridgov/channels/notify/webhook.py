"""Work sent to a department's own system: each notice to a connected department (dispatched,
urged, sent back…) goes, through the outbox, as a signed POST of the event as the department's
account may see it. The department answers through the API with that account's token: sign,
report back, return; scoped to its own work like any department handler.

Signature: ``X-Gridgov-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with the
webhook's secret; ``X-Gridgov-Delivery`` is the outbox id, the same on every retry, for the
receiver to drop duplicates. Any answer but 2xx is retried with the outbox's backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from gridgov.core import outbox
from gridgov.core.models import Outbox
from gridgov.events import presenters, queries

from .models import Webhook

TIMEOUT = 10
# What a department's system hears of: its own work arriving and being pressed or sent back.
TOPICS = frozenset(
    {
        "event.dispatched",
        "event.return_rejected",
        "event.rework",
        "event.reopened",
        "event.urged",
        "event.supervised",
        "event.due_soon",
        "event.overdue",
        "event.extension_approved",
        "event.extension_denied",
        "event.suspension_approved",
        "event.suspension_denied",
    }
)


def fan_out(msg: Outbox) -> int:
    """Queue the webhook call for a notice to a connected department, keyed on the notice."""
    kind, _, code = msg.recipient.partition(":")
    if kind != "unit" or msg.topic not in TOPICS:
        return 0
    if not Webhook.objects.filter(unit__code=code, active=True).exists():
        return 0
    outbox.enqueue(
        msg.topic, msg.recipient, msg.payload, channel=Outbox.Channel.WEBHOOK, key=f"{msg.pk}:hook"
    )
    return 1


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@outbox.adapter(Outbox.Channel.WEBHOOK)
def deliver(msg: Outbox) -> None:
    code = msg.recipient.partition(":")[2]
    hook = Webhook.objects.select_related("account").filter(unit__code=code, active=True).first()
    if hook is None:
        return  # disconnected since: its people still have the notice in the console
    event = queries.event(hook.account, msg.payload.get("event"))
    body = json.dumps(
        {
            "delivery": str(msg.pk),
            "topic": msg.topic,
            "sent_at": timezone.now(),
            # as the department's account may see it, or nothing once it is no longer theirs
            "event": presenters.detail(event, hook.account) if event else None,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
    ).encode()
    ts = str(int(time.time()))
    r = requests.post(
        hook.url,
        data=body,
        timeout=TIMEOUT,
        allow_redirects=False,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Gridgov-Delivery": str(msg.pk),
            "X-Gridgov-Topic": msg.topic,
            "X-Gridgov-Signature": f"t={ts},v1={sign(hook.secret, ts, body)}",
        },
    )
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"the department's system answered {r.status_code}")
