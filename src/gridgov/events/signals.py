"""Open events move with their grid when grids are redrawn (same transaction as the import)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from gridgov.geo.locator import GridLocator, rows_from_db
from gridgov.regions.signals import grids_redrawn

from .models import Event, TimelineEntry
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
        old = event.grid_code
        updated = Event.objects.filter(pk=event.pk, version=event.version).update(
            grid_code=hit.code,
            county_code=hit.code[:6],
            version=event.version + 1,
            location_uncertain=not hit.inside,
        )
        if updated:
            TimelineEntry.objects.create(
                event=event,
                seq=event.version + 1,
                at=kw["revision"].created_at,
                actor_label="system",
                action="regrid",
                from_state=event.state,
                to_state=event.state,
                data={"from": old, "to": hit.code},
            )
