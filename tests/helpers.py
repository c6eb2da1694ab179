"""Helpers for event tests: points inside grids, API clients, reports and actions."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import Client

from gridgov.accounts.models import User
from gridgov.geo.geometry import polygon_from_geojson
from gridgov.regions.models import Grid


def point_in(grid_code: str) -> tuple[float, float]:
    grid = Grid.objects.get(code=grid_code, effective_to=None)
    p = polygon_from_geojson(grid.boundary).representative_point()
    return p.x, p.y


def client(who: User | str) -> Client:
    """A client signed in as a persona (tests/personas.py) or, in story tests, a demo account."""
    c = Client()
    c.force_login(who if isinstance(who, User) else User.objects.get(username=who))
    return c


def report_body(grid_code: str, **fields: Any) -> dict[str, Any]:
    """A report's JSON body at a point inside ``grid_code``, with a new client id."""
    lon, lat = point_in(grid_code)
    return {
        "client_id": str(uuid.uuid4()),
        "channel": "web",
        "title": "测试事件",
        "description": "测试描述",
        "lon": lon,
        "lat": lat,
        **fields,
    }


def report(c: Client, grid_code: str, **fields: Any) -> Any:
    return c.post(
        "/api/v1/events", report_body(grid_code, **fields), content_type="application/json"
    )


def act(c: Client, event: str, action: str, **body: Any) -> Any:
    return c.post(f"/api/v1/events/{event}/{action}", body, content_type="application/json")


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()[:2000]
    return response.json()  # type: ignore[no-any-return]
