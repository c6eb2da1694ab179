"""Patrol tests' pieces: points inside a grid, checkpoints, and a patrol through the API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from gridgov.geo.geometry import polygon_from_geojson
from gridgov.patrol.models import Checkpoint
from gridgov.patrol.services import grid_at
from gridgov.regions.models import Grid

from ..personas import GRID8

HONGQI = "130104008"


def xinhua_grid() -> str:
    """A base grid in Xinhua, another county of the same city."""
    code = (
        Grid.objects.filter(code__startswith="130105", effective_to=None, kind="base")
        .order_by("code")
        .values_list("code", flat=True)
        .first()
    )
    assert code is not None
    return code


def points_in(grid_code: str, n: int = 4) -> list[tuple[float, float]]:
    """``n`` distinct points well inside a grid (towards its corners from an inner point)."""
    shape = polygon_from_geojson(Grid.objects.get(code=grid_code, effective_to=None).boundary)
    inner = shape.representative_point()
    part = max(getattr(shape, "geoms", [shape]), key=lambda g: g.area)
    found = [(inner.x, inner.y)]
    for share in (0.2, 0.35, 0.5):
        for x, y in list(part.exterior.coords)[:-1]:
            p = (inner.x + (x - inner.x) * share, inner.y + (y - inner.y) * share)
            if shape.contains(type(inner)(*p)) and grid_at(*p) == grid_code:
                found.append(p)
            if len(found) >= n:
                return found
    raise AssertionError(f"not {n} points inside {grid_code}")


def checkpoint(grid_code: str = GRID8, radius_m: int = 100, **kw: Any) -> Checkpoint:
    lon, lat = points_in(grid_code, 1)[0]
    fields: dict[str, Any] = {"name": "测试小学校门", "kind": "school_gate", **kw}
    return Checkpoint.objects.create(
        grid_code=grid_code, lon=lon, lat=lat, radius_m=radius_m, **fields
    )


def ago(minutes: float = 0) -> datetime:
    return timezone.now() - timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def post(c: Client, path: str, body: Any) -> Any:
    return c.post(f"/api/v1{path}", body, content_type="application/json")


def start(c: Client, grid: str = GRID8, minutes: float = 30, **kw: Any) -> Any:
    lon, lat = points_in(grid, 1)[0]
    body = {"id": str(uuid.uuid4()), "started_at": iso(ago(minutes)), "lon": lon, "lat": lat}
    return post(c, "/patrols", {**body, **kw})


def send(c: Client, patrol: str, points: list[dict[str, Any]], client_id: str = "") -> Any:
    body = {"client_id": client_id or str(uuid.uuid4()), "points": points}
    return post(c, f"/patrols/{patrol}/points", body)


def walk(grid: str = GRID8, n: int = 4, since: float = 25, step: float = 1) -> list[dict[str, Any]]:
    """``n`` points inside ``grid``, one a minute from ``since`` minutes ago."""
    return [
        {"at": iso(ago(since - i * step)), "lon": lon, "lat": lat, "accuracy_m": 8}
        for i, (lon, lat) in enumerate(points_in(grid, n))
    ]


def check_in(c: Client, patrol: str, place: Checkpoint, **kw: Any) -> Any:
    body = {
        "id": str(uuid.uuid4()),
        "checkpoint": place.pk,
        "at": iso(ago(10)),
        "lon": place.lon,
        "lat": place.lat,
        "accuracy_m": 10,
        **kw,
    }
    return post(c, f"/patrols/{patrol}/checkins", body)


def end(c: Client, patrol: str, minutes: float = 1, **kw: Any) -> Any:
    return post(c, f"/patrols/{patrol}/end", {"ended_at": iso(ago(minutes)), **kw})
