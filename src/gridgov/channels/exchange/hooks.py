"""Queue the parent's items in the transaction of each change of an event (core/flow.py's
``changed`` signal, sent by the engine and by intake), only when a parent is configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from gridgov.core import flow
from gridgov.events.models import Event

from . import items


@receiver(flow.changed, sender=Event, dispatch_uid="exchange.event_changed")
def event_changed(
    sender: Any, obj: Event, action: str, before: dict[str, Any] | None, at: datetime, **kw: Any
) -> None:
    if not items.enabled():
        return
    if before is None:
        items.queue_created(obj)
    elif items.moved(before, obj):
        items.queue_changed(obj, action, before, at)
