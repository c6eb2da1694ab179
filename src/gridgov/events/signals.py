"""Open events move with their grid when grids are redrawn (same transaction as the import)."""

from __future__ import annotations

import contextlib
from typing import Any

from django.dispatch import receiver

from gridgov.core.errors import Conflict
from gridgov.geo.locator import GridLocator
from gridgov.regions.locator import rows_from_db
from gridgov.regions.signals import grids_redrawn

from . import services
from .models import Event
from .workflow import OPEN


@receiver(grids_redrawn)
def move_open_events(
    sender: Any, ended: dict[int, str], created: dict[str, int], **kw: Any
) -> None:
    gone = set(ended.values()) - set(created)
    if not gone:
        return  # every code lives on: events keep their grid code
    events = Event.objects.filter(grid_code__in=gone, state__in=[s.value for s in OPEN])
    if not events.exists():
        return
    locator = GridLocator(rows_from_db())  # the new drawing, inside this transaction
    for event in events:
        hit = locator.locate(event.lon, event.lat)
        if hit is None or hit.code == event.grid_code:
            continue
        # Changed meanwhile in this transaction: it keeps its grid until it is located again.
        with contextlib.suppress(Conflict):
            services.do_regrid(event, hit.code, hit.inside)
