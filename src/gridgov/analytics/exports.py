"""Lists as Excel (台账): the same rows as the page, every page of them, in the page's order,
with Chinese headers. Rows come from presenters (masking applied there, once)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.events import presenters
from gridgov.events.models import Event

# Excel holds 1,048,576 rows a sheet; the header takes one.
MAX_ROWS = 1_048_575


def columns() -> list[tuple[str, str, int]]:
    """(header, key of presenters.work_row, width)."""
    return [
        (_("Case number"), "code", 20),
        (_("Title"), "title", 30),
        (_("Category"), "category_name", 16),
        (_("Address"), "address", 30),
        (_("Grid"), "grid_code", 17),
        (_("Channel"), "channel_label", 12),
        (_("State"), "state_label", 12),
        (_("Urgency"), "urgency_label", 8),
        (_("Reported"), "reported_at", 17),
        (_("Due"), "due_at", 17),
        (_("Time left"), "time_left", 14),
        (_("Supervision"), "urge_label", 14),
        (_("Urges"), "urge_count", 6),
        (_("Assignee"), "assignee", 20),
        (_("Reporter"), "reporter", 16),
    ]


def rows(events: Iterable[Event], now: datetime | None = None) -> Iterator[list[Any]]:
    now = now or timezone.now()
    keys = [key for _h, key, _w in columns()]
    for e in events:
        r = presenters.work_row(e, now)
        yield [r[k] for k in keys]
