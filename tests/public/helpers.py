"""The citizens' door as a test client sees it: a device, a solved challenge, a report."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import Client

from gridgov.core import challenge
from gridgov.geo.crs import wgs84_to_gcj02

from ..helpers import point_in

GRID8 = "130104008019008"


def device() -> str:
    return uuid.uuid4().hex


def solved(c: Client, dev: str = "") -> dict[str, str]:
    r = c.post("/api/v1/public/challenge", HTTP_X_DEVICE_ID=dev or device())
    assert r.status_code == 200, r.content
    token, bits = r.json()["token"], r.json()["bits"]
    return {"challenge": token, "answer": challenge.solve(token, bits)}


def body(c: Client, grid: str = GRID8, **fields: Any) -> dict[str, Any]:
    lon, lat = wgs84_to_gcj02(*point_in(grid))
    return {
        "client_id": str(uuid.uuid4()),
        "category": "0202",
        "description": "路口有人占道经营，堵住了人行道",
        "lon": lon,
        "lat": lat,
        "crs": "gcj02",
        "name": "王小明",
        "phone": "13912345678",
        **solved(c),
        **fields,
    }


def post_report(c: Client, dev: str, data: dict[str, Any]) -> Any:
    return c.post(
        "/api/v1/public/reports", data, content_type="application/json", HTTP_X_DEVICE_ID=dev
    )
