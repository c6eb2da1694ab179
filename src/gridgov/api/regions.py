"""Regions and grids over the API: thin — parse, scope, call a query or service, answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from gridgov.accounts.auth import API_AUTH
from gridgov.core import audit
from gridgov.core.schema import PageParams, errors
from gridgov.core.text import Text
from gridgov.geo.crs import CRS
from gridgov.regions import queries
from gridgov.regions.locator import get_locator
from gridgov.regions.models import Grid, Region
from gridgov.regions.services import export_grids

router = Router(auth=API_AUTH, tags=["regions"])


class RegionOut(Schema):
    code: str
    name: str
    level: int
    parent_id: str | None
    area_type: str
    boundary_synthetic: bool


class GridOut(Schema):
    code: str
    name: str
    kind: str
    dedicated_type: str
    village_id: str
    population: int
    households: int
    synthetic: bool
    effective_from: datetime
    effective_to: datetime | None


class GridDetail(GridOut):
    boundary: dict[str, Any]
    revision_id: int


class Page(Schema):
    count: int
    items: list[Any]


class RegionPage(Page):
    items: list[RegionOut]


class GridPage(Page):
    items: list[GridOut]


class RegionFilter(PageParams):
    level: int | None = Field(None, ge=1, le=5)
    under: str = Field("", pattern=r"^\d{0,12}$")
    q: Text = Field("", max_length=50)


class GridFilter(PageParams):
    under: str = Field("", pattern=r"^\d{0,15}$")
    kind: Grid.Kind | None = None
    q: Text = Field("", max_length=50)


class LocateParams(Schema):
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    crs: CRS = CRS.WGS84


class LocateOut(Schema):
    code: str
    name: str
    kind: str
    inside: bool
    distance_m: float
    wgs84: list[float] = Field(..., min_length=2, max_length=2, description="[lon, lat]")


@router.get("/regions", response={200: RegionPage, **errors()})
def list_regions(request: HttpRequest, f: Query[RegionFilter]) -> dict[str, Any]:
    qs = queries.regions(request.user, "list", level=f.level, under=f.under, q=f.q)
    return {"count": qs.count(), "items": list(qs[f.offset : f.offset + f.limit])}


@router.get("/regions/{code}", response={200: RegionOut, **errors()})
def region_detail(request: HttpRequest, code: str) -> Region:
    return get_object_or_404(queries.regions(request.user, "view"), code=code)


@router.get("/grids", response={200: GridPage, **errors()})
def list_grids(request: HttpRequest, f: Query[GridFilter]) -> dict[str, Any]:
    qs = queries.grids(request.user, "list", under=f.under, kind=f.kind or "", q=f.q)
    return {"count": qs.count(), "items": list(qs[f.offset : f.offset + f.limit])}


@router.get("/grids/export", response={200: dict[str, Any], **errors()})
def export(request: HttpRequest, under: str = Query("", pattern=r"^\d{0,15}$")) -> dict[str, Any]:
    """Current grids in the caller's scope as GeoJSON; every export is audited."""
    data = export_grids(queries.grids(request.user, "export", under=under))
    with transaction.atomic():
        audit.record(
            "grids.export",
            actor=request.user,
            object_type="regions.grid",
            detail={"under": under, "features": len(data["features"])},
        )
    return data


@router.get("/grids/stats", response={200: dict[str, int], **errors()})
def stats(request: HttpRequest, under: str = Query("", pattern=r"^\d{0,15}$")) -> dict[str, int]:
    return queries.grid_stats(request.user, under)


@router.get("/grids/{code}", response={200: GridDetail, **errors()})
def grid_detail(request: HttpRequest, code: str) -> Grid:
    return get_object_or_404(queries.grids(request.user, "view"), code=code)


@router.get("/locate", response={200: LocateOut, **errors()})
def locate(request: HttpRequest, p: Query[LocateParams]) -> dict[str, Any]:
    """The grid at a point, if it lies in the caller's scope (otherwise 404)."""
    hit = get_locator().locate(p.lon, p.lat, p.crs)
    if hit is None:
        raise Http404
    grid = get_object_or_404(queries.grids(request.user, "map"), pk=hit.grid_id)
    return {
        "code": hit.code,
        "name": grid.name,
        "kind": hit.kind,
        "inside": hit.inside,
        "distance_m": round(hit.distance_m, 1),
        "wgs84": (hit.lon, hit.lat),
    }
