"""GeoJSON ⇄ Shapely, with the checks an import needs, and metric helpers."""

from __future__ import annotations

import math
from typing import Any

import shapely
import shapely.affinity
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

# Coordinates are stored to 1e-7 degrees (~1 cm): finer is noise, coarser moves shared edges.
PRECISION = 1e-7
# Longitude/latitude box of China, used to tell degrees from projected metres.
CHINA_BOX = (73.0, 3.0, 136.0, 54.0)
# Overlaps smaller or thinner than these are coordinate rounding along shared edges, not real.
AREA_TOLERANCE_M2 = 1.0
THICKNESS_TOLERANCE_M = 0.1

# CRS names GeoJSON files carry for WGS-84 / CGCS2000 geographic coordinates.
WGS84_NAMES = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4490",
    "EPSG:4490",
}


class GeometryError(ValueError):
    pass


def polygon_from_geojson(geom: Any) -> BaseGeometry:
    """A valid Polygon or MultiPolygon in degrees, or GeometryError saying why not."""
    if not isinstance(geom, dict) or geom.get("type") not in {"Polygon", "MultiPolygon"}:
        raise GeometryError("geometry must be a GeoJSON Polygon or MultiPolygon")
    try:
        shp = shape(geom)
    except Exception as exc:  # shapely raises several types for malformed rings
        raise GeometryError(f"malformed coordinates: {exc}") from exc
    if shp.is_empty:
        raise GeometryError("empty geometry")
    minx, miny, maxx, maxy = shp.bounds
    if not (
        CHINA_BOX[0] <= minx
        and maxx <= CHINA_BOX[2]
        and CHINA_BOX[1] <= miny
        and maxy <= CHINA_BOX[3]
    ):
        raise GeometryError(
            "coordinates are not WGS-84 longitude/latitude in China "
            f"(bounds {minx:.3f},{miny:.3f},{maxx:.3f},{maxy:.3f}); projected or swapped axes?"
        )
    if not shp.is_valid:
        raise GeometryError(f"invalid polygon: {explain_validity(shp)}")
    return shp


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    return dict(mapping(shapely.set_precision(geom, PRECISION)))


def bbox(geom: BaseGeometry) -> tuple[float, float, float, float]:
    return tuple(geom.bounds)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Approximate metres per degree of longitude and latitude at ``lat``."""
    return 111_320.0 * math.cos(math.radians(lat)), 110_574.0


def area_m2(geom: BaseGeometry) -> float:
    if geom.is_empty:
        return 0.0
    mx, my = metres_per_degree(geom.centroid.y)
    return float(geom.area * mx * my)


def significant_area_m2(geom: BaseGeometry) -> float:
    """Area in m² of ``geom`` (an overlap or a spill-over), or 0 if it is only a rounding sliver:
    tiny, or thinner on average (2·area/perimeter) than THICKNESS_TOLERANCE_M."""
    area = area_m2(geom)
    if area <= AREA_TOLERANCE_M2:
        return 0.0
    mx, my = metres_per_degree(geom.centroid.y)
    scaled = shapely.affinity.scale(geom, mx, my, origin=(0, 0))
    thickness = 2 * area / max(scaled.length, 1e-9)
    return area if thickness > THICKNESS_TOLERANCE_M else 0.0
