"""Actions that change regions and grids. Each writes its audit row in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from gridgov.core import audit
from gridgov.geo.crs import CRS
from gridgov.geo.geometry import bbox, to_geojson

from . import grid_import, locator
from .models import Grid, GridRevision, Region
from .signals import grids_redrawn


def _grid_row(
    f: grid_import.GridFeature, revision: GridRevision, synthetic: bool, now: Any
) -> Grid:
    minx, miny, maxx, maxy = bbox(f.geometry)
    return Grid(
        code=f.code,
        name=f.name,
        kind=f.kind,
        dedicated_type=f.dedicated_type,
        village_id=f.village_code,
        boundary=to_geojson(f.geometry),
        min_lon=minx,
        min_lat=miny,
        max_lon=maxx,
        max_lat=maxy,
        population=f.population,
        households=f.households,
        synthetic=synthetic,
        revision=revision,
        effective_from=now,
    )


def do_import_grids(
    data: Any,
    *,
    actor: Any = None,
    source: str = "import",
    crs: CRS | str = CRS.WGS84,
    synthetic: bool | None = None,
) -> GridRevision:
    """Redraw the grids of every village the file mentions; raise ImportRejected on any problem.

    The file's villages get exactly the file's grids: their current grids end (kept as history)
    and the new ones begin, in one transaction. Grids of other villages are untouched.
    """
    features = grid_import.check(data, crs)
    if synthetic is None:
        synthetic = bool(isinstance(data, dict) and data.get("synthetic"))
    villages = sorted({f.village_code for f in features})
    now = timezone.now()
    with transaction.atomic():
        revision = GridRevision.objects.create(
            created_by=getattr(actor, "username", "") or "system",
            source=source[:255],
            grid_count=len(features),
        )
        ended_qs = Grid.objects.filter(effective_to__isnull=True, village_id__in=villages)
        ended = dict(ended_qs.values_list("id", "code"))
        ended_qs.update(effective_to=now)
        Grid.objects.bulk_create(
            [_grid_row(f, revision, synthetic, now) for f in features], batch_size=1000
        )
        created = dict(Grid.objects.filter(revision=revision).values_list("code", "id"))
        grids_redrawn.send(sender=Grid, revision=revision, ended=ended, created=created)
        audit.record(
            "grids.import",
            actor=actor,
            obj=revision,
            detail={
                "source": source,
                "grids": len(features),
                "villages": len(villages),
                "ended": len(ended),
                "crs": str(crs),
            },
        )
        transaction.on_commit(locator.invalidate)
    return revision


def export_grids(grids: QuerySet[Grid]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946, WGS-84) of the given grids."""
    features = []
    rows = grids.select_related("revision").order_by("code")
    for g in rows.iterator(chunk_size=2000):
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "kind": g.kind,
                    "dedicated_type": g.dedicated_type,
                    "village": g.village_id,
                    "population": g.population,
                    "households": g.households,
                    "synthetic": g.synthetic,
                    "revision": g.revision_id,
                    "effective_from": g.effective_from.isoformat(),
                },
                "geometry": g.boundary,
            }
        )
    return {"type": "FeatureCollection", "features": features}


class RegionRow(Protocol):
    """A division to load: its code, name, level, parent, area type and boundary."""

    code: str
    name: str
    level: int
    parent: str
    area_type: str
    boundary: BaseGeometry | None
    synthetic: bool
    source: str


def do_load_regions(rows: Iterable[RegionRow], *, actor: Any = None) -> int:
    """Insert the regions that are not there yet (parents before children)."""
    existing = set(Region.objects.values_list("code", flat=True))
    new = [r for r in sorted(rows, key=lambda r: (r.level, r.code)) if r.code not in existing]
    with transaction.atomic():
        Region.objects.bulk_create(
            [
                Region(
                    code=r.code,
                    name=r.name,
                    level=r.level,
                    parent_id=r.parent or None,
                    area_type=r.area_type,
                    boundary=to_geojson(r.boundary) if r.boundary is not None else None,
                    boundary_synthetic=r.synthetic,
                    boundary_source=r.source,
                )
                for r in new
            ],
            batch_size=1000,
        )
        if new:
            audit.record(
                "regions.load",
                actor=actor,
                object_type="regions.region",
                detail={"created": len(new)},
            )
    return len(new)


def current_grids() -> QuerySet[Grid]:
    return Grid.objects.filter(effective_to__isnull=True)
