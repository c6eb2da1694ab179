from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridgov.geo.crs import CRS
from gridgov.regions.locator import get_locator
from gridgov.regions.models import Grid


class Command(BaseCommand):
    help = "Print the grid at a point: code first, then name, kind and (outside) the distance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("lon", type=float)
        parser.add_argument("lat", type=float)
        parser.add_argument("--crs", choices=[c.value for c in CRS], default="wgs84")

    def handle(self, *args: Any, **opts: Any) -> None:
        hit = get_locator().locate(opts["lon"], opts["lat"], opts["crs"])
        if hit is None:
            raise CommandError("no grids are loaded")
        name = Grid.objects.filter(pk=hit.grid_id).values_list("name", flat=True).first() or ""
        line = f"{hit.code}\t{name}\t{hit.kind}"
        if not hit.inside:
            line += f"\toutside, nearest at {hit.distance_m:.0f} m"
        self.stdout.write(line)
