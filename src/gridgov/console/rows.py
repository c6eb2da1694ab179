"""A work list's rows as its table shows them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.urls import reverse

from gridgov.events import presenters
from gridgov.events.models import Event


def work_rows(events: Iterable[Event], now: datetime) -> list[dict[str, Any]]:
    """Each event's row with the address of its page (resolved here once, not twice per row
    in the template)."""
    return [
        {**presenters.work_row(e, now), "href": reverse("console:event", args=[e.code])}
        for e in events
    ]
