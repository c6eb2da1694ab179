"""Checking a GeoJSON file of grids before anything is written.

Every feature is checked and every problem reported at once, each naming the feature and the
reason, so a township can fix its whole file in one pass. A file with any problem changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from gridgov.core import codes
from gridgov.geo.crs import CRS, to_wgs84
from gridgov.geo.geometry import (
    WGS84_NAMES,
    GeometryError,
    area_m2,
    polygon_from_geojson,
    significant_area_m2,
)

from .models import Grid, Region

GRID_CODE_RE = re.compile(r"^\d{15}$")
KINDS = {k.value for k in Grid.Kind}
DEDICATED_TYPES = {t.value for t in Grid.DedicatedType if t.value}


@dataclass(frozen=True)
class Problem:
    feature: int | None  # 1-based position in the file; None for the file itself
    code: str
    field: str
    message: str

    def __str__(self) -> str:
        where = "file" if self.feature is None else f"feature {self.feature}"
        if self.code:
            where += f" ({self.code})"
        return f"{where}: {self.field}: {self.message}"


@dataclass
class GridFeature:
    index: int
    code: str
    name: str
    kind: str
    dedicated_type: str
    population: int
    households: int
    geometry: BaseGeometry

    @property
    def village_code(self) -> str:
        return codes.village_of(self.code)


class ImportRejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the grid file")
        self.problems = problems


def _convert(geom: BaseGeometry, crs: CRS) -> BaseGeometry:
    if crs is CRS.WGS84:
        return geom

    def fn(coords: np.ndarray) -> np.ndarray:
        return np.array([to_wgs84(x, y, crs) for x, y in coords])

    return shapely.transform(geom, fn)


def _file_problems(data: Any) -> list[Problem]:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        return [Problem(None, "", "type", "the file must be a GeoJSON FeatureCollection")]
    if not isinstance(data.get("features"), list):
        return [Problem(None, "", "features", "'features' must be a list")]
    crs = data.get("crs")
    if crs is not None:
        name = (crs.get("properties") or {}).get("name", "") if isinstance(crs, dict) else ""
        if name not in WGS84_NAMES:
            return [
                Problem(
                    None,
                    "",
                    "crs",
                    f"coordinate reference system {name or crs!r} is not WGS-84/CGCS2000; "
                    "reproject the file, or pass --crs gcj02|bd09 for Chinese map coordinates",
                )
            ]
    return []


def _int_prop(props: dict[str, Any], key: str, problems: list[Problem], pos: int, code: str) -> int:
    value = props.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(Problem(pos, code, key, "must be a whole number ≥ 0"))
        return 0
    return value


def _parse_feature(pos: int, feat: Any, crs: CRS, problems: list[Problem]) -> GridFeature | None:
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        problems.append(Problem(pos, "", "type", "not a GeoJSON Feature"))
        return None
    props = feat.get("properties") or {}
    code = str(props.get("code", ""))
    before = len(problems)
    if not GRID_CODE_RE.match(code):
        problems.append(
            Problem(pos, code, "code", "must be 15 digits: village code (12) + serial (3)")
        )
    name = str(props.get("name", "")).strip()
    if not name or len(name) > 100:
        problems.append(Problem(pos, code, "name", "required, at most 100 characters"))
    kind = str(props.get("kind", "base"))
    if kind not in KINDS:
        problems.append(Problem(pos, code, "kind", f"must be one of {sorted(KINDS)}"))
    dtype = str(props.get("dedicated_type", "") or "")
    if kind == "dedicated" and dtype not in DEDICATED_TYPES:
        problems.append(
            Problem(pos, code, "dedicated_type", f"must be one of {sorted(DEDICATED_TYPES)}")
        )
    population = _int_prop(props, "population", problems, pos, code)
    households = _int_prop(props, "households", problems, pos, code)
    try:
        raw = polygon_from_geojson(feat.get("geometry"))
        geom = _convert(raw, crs) if crs is not CRS.WGS84 else raw
        if not geom.is_valid:
            raise GeometryError("polygon became invalid after coordinate conversion")
    except GeometryError as exc:
        problems.append(Problem(pos, code, "geometry", str(exc)))
        return None
    if len(problems) > before:
        return None
    return GridFeature(
        pos, code, name, kind, dtype if kind == "dedicated" else "", population, households, geom
    )


def parse(data: Any, crs: CRS | str = CRS.WGS84) -> tuple[list[GridFeature], list[Problem]]:
    """Parse and check each feature on its own."""
    problems = _file_problems(data)
    if problems:
        return [], problems
    features = []
    for pos, feat in enumerate(data["features"], start=1):
        parsed = _parse_feature(pos, feat, CRS(crs), problems)
        if parsed is not None:
            features.append(parsed)
    if not data["features"]:
        problems.append(Problem(None, "", "features", "the file has no features"))
    return features, problems


def _duplicate_problems(features: list[GridFeature]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for f in features:
        if f.code in seen:
            problems.append(
                Problem(f.index, f.code, "code", f"duplicate of feature {seen[f.code]}")
            )
        else:
            seen[f.code] = f.index
    return problems


def _village_problems(features: list[GridFeature]) -> list[Problem]:
    codes = {f.village_code for f in features}
    villages = {
        r.code: r for r in Region.objects.filter(code__in=codes, level=Region.Level.VILLAGE)
    }
    problems = []
    shapes: dict[str, BaseGeometry | None] = {}
    for f in features:
        village = villages.get(f.village_code)
        if village is None:
            problems.append(
                Problem(
                    f.index,
                    f.code,
                    "code",
                    f"{f.village_code} is not an existing village/community code",
                )
            )
            continue
        if village.code not in shapes:
            shapes[village.code] = (
                polygon_from_geojson(village.boundary) if village.boundary else None
            )
        shape = shapes[village.code]
        if shape is None:
            continue  # no village boundary on record: nothing to check against
        outside = significant_area_m2(f.geometry.difference(shape))
        if outside:
            share = outside / max(area_m2(f.geometry), 1e-9)
            problems.append(
                Problem(
                    f.index,
                    f.code,
                    "geometry",
                    f"lies {share:.1%} ({outside:,.0f} m²) outside its village {village}",
                )
            )
    return problems


def _overlap_problems(
    features: list[GridFeature], kept: list[tuple[str, BaseGeometry]]
) -> list[Problem]:
    """Base grids may touch but not overlap, neither each other nor grids the file keeps."""
    base = [f for f in features if f.kind == "base"]
    geoms = [f.geometry for f in base] + [g for _, g in kept]
    labels = [f"feature {f.index} ({f.code})" for f in base] + [
        f"current grid {c}" for c, _ in kept
    ]
    if len(geoms) < 2:
        return []
    tree = STRtree(geoms)
    left, right = tree.query(geoms[: len(base)], predicate="intersects")
    problems = []
    for i, j in zip(left, right, strict=True):
        if j <= i and j < len(base):
            continue  # each pair of file features once
        if i == j:
            continue
        overlap = significant_area_m2(geoms[i].intersection(geoms[j]))
        if overlap:
            f = base[i]
            problems.append(
                Problem(
                    f.index,
                    f.code,
                    "geometry",
                    f"overlaps {labels[j]} by {overlap:,.0f} m² (base grids may not overlap)",
                )
            )
    return problems


def kept_base_grids(
    replaced_villages: Iterable[str], bounds: tuple[float, float, float, float]
) -> list[tuple[str, BaseGeometry]]:
    """Current base grids within ``bounds`` that survive an import replacing those villages."""
    replaced = set(replaced_villages)
    minx, miny, maxx, maxy = bounds
    rows = Grid.objects.filter(
        effective_to__isnull=True,
        kind=Grid.Kind.BASE,
        min_lon__lte=maxx,
        max_lon__gte=minx,
        min_lat__lte=maxy,
        max_lat__gte=miny,
    ).values_list("code", "boundary", "village_id")
    return [
        (code, polygon_from_geojson(boundary))
        for code, boundary, village in rows.iterator(chunk_size=2000)
        if village not in replaced
    ]


def check(data: Any, crs: CRS | str = CRS.WGS84) -> list[GridFeature]:
    """All features, fully checked; raises ImportRejected listing every problem."""
    features, problems = parse(data, crs)
    problems += _duplicate_problems(features)
    problems += _village_problems(features)
    villages = {f.village_code for f in features}
    if features:
        bounds = shapely.total_bounds([f.geometry for f in features])
        problems += _overlap_problems(features, kept_base_grids(villages, tuple(bounds)))
    if problems:
        problems.sort(key=lambda p: (p.feature or 0, p.field))
        raise ImportRejected(problems)
    return features
