"""Synthetic checkpoints (巡查点位) for the demo city: in the first few villages of every
township, a school gate and a market inside their grids, and a checkpoint at each dedicated
school, market, hospital or park grid there; a school gate and a market in each demo grid
worker's own grid. Labelled synthetic; idempotent."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from gridgov.geo.geometry import polygon_from_geojson
from gridgov.patrol.models import Checkpoint
from gridgov.patrol.services import grid_at
from gridgov.regions.models import Grid, Region

VILLAGES_PER_TOWNSHIP = 3
DEDICATED_KINDS = {
    "school": Checkpoint.Kind.SCHOOL_GATE,
    "market": Checkpoint.Kind.MARKET,
    "hospital": Checkpoint.Kind.HOSPITAL,
    "park": Checkpoint.Kind.PARK,
}


def _villages(counties: list[str] | None) -> list[str]:
    """The first villages (by code) of every township, in the given counties."""
    qs = Region.objects.filter(level=Region.Level.VILLAGE, grids__effective_to__isnull=True)
    if counties:
        qs = qs.filter(parent__parent_id__in=counties)
    by_township: dict[str, list[str]] = defaultdict(list)
    for code in qs.distinct().order_by("code").values_list("code", flat=True):
        kept = by_township[code[:9]]
        if len(kept) < VILLAGES_PER_TOWNSHIP:
            kept.append(code)
    return sorted(c for codes in by_township.values() for c in codes)


def _another_point(shape: BaseGeometry, first: Point) -> Point:
    """A second point inside ``shape``, some way from ``first`` (half-way to a corner)."""
    parts = list(getattr(shape, "geoms", [shape]))
    ring = max(parts, key=lambda g: g.area).exterior
    for x, y in list(ring.coords)[:-1]:
        p = Point((first.x + x) / 2, (first.y + y) / 2)
        if shape.contains(p):
            return p
    return first


def _stem(name: str) -> str:
    return name.split("第")[0].removesuffix("专属网格")


def _for_village(grids: list[dict[str, Any]]) -> list[tuple[str, str, Point]]:
    """(name, kind, point) of one village's demo checkpoints."""
    base = [g for g in grids if g["kind"] == Grid.Kind.BASE]
    found: list[tuple[str, str, Point]] = []
    if base:
        first = polygon_from_geojson(base[0]["boundary"])
        gate = first.representative_point()
        found.append((f"{_stem(base[0]['name'])}小学校门", Checkpoint.Kind.SCHOOL_GATE, gate))
        if len(base) > 1:
            market = polygon_from_geojson(base[1]["boundary"]).representative_point()
        else:
            market = _another_point(first, gate)
        found.append((f"{_stem(base[0]['name'])}农贸市场", Checkpoint.Kind.MARKET, market))
    for g in grids:
        kind = DEDICATED_KINDS.get(g["dedicated_type"])
        if g["kind"] == Grid.Kind.DEDICATED and kind:
            point = polygon_from_geojson(g["boundary"]).representative_point()
            found.append((f"{_stem(g['name'])}门口", kind, point))
    return found


def _in_grids(codes: list[str]) -> list[tuple[str, str, Point]]:
    """A school gate and a market inside each of these grids (the demo accounts' own)."""
    found: list[tuple[str, str, Point]] = []
    for g in Grid.objects.filter(code__in=codes, effective_to__isnull=True).order_by("code"):
        shape = polygon_from_geojson(g.boundary)
        gate = shape.representative_point()
        found.append((f"{_stem(g.name)}小学校门", Checkpoint.Kind.SCHOOL_GATE, gate))
        market = _another_point(shape, gate)
        found.append((f"{_stem(g.name)}农贸市场", Checkpoint.Kind.MARKET, market))
    return found


def _in_villages(villages: list[str]) -> list[tuple[str, str, Point]]:
    grids: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = Grid.objects.filter(effective_to__isnull=True, village_id__in=villages).order_by("code")
    for g in rows.values("code", "name", "kind", "dedicated_type", "boundary", "village_id"):
        grids[g["village_id"]].append(dict(g))
    return [found for v in villages for found in _for_village(grids[v])]


def seed_checkpoints(counties: list[str] | None = None, grids: list[str] | None = None) -> int:
    """Add the demo checkpoints that are missing — in the first villages of every township of
    ``counties`` (all by default) and in each of ``grids`` — and return how many were added. A
    demo checkpoint is known by its grid and name, so loading again adds none."""
    have = set(Checkpoint.objects.filter(synthetic=True).values_list("grid_code", "name"))
    made = []
    for name, kind, point in _in_grids(grids or []) + _in_villages(_villages(counties)):
        lon, lat = round(point.x, 6), round(point.y, 6)
        code = grid_at(lon, lat)
        if code is None or (code, name[:100]) in have:
            continue
        have.add((code, name[:100]))
        made.append(
            Checkpoint(name=name[:100], kind=kind, grid_code=code, lon=lon, lat=lat, synthetic=True)
        )
    Checkpoint.objects.bulk_create(made, batch_size=500)
    return len(made)
