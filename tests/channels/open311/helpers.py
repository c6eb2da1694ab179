"""Open311 as a test client sees it: a registered client's key, a form POST, parsed answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from gridgov.channels.open311 import services

from ...helpers import point_in

BASE = "/open311/v2"
GRID8 = "130104008019008"  # Huiwen grid 8, Qiaoxi


def new_key(client: str = "cityapp", rate: str = "") -> str:
    return services.do_issue_key(client, rate)[1]


def form(key: str, grid: str = GRID8, **fields: Any) -> dict[str, Any]:
    lon, lat = point_in(grid)
    body: dict[str, Any] = {
        "api_key": key,
        "service_code": "0201",
        "lat": f"{lat:.6f}",
        "long": f"{lon:.6f}",
        "address_string": "汇文街 12 号门口",
        "description": "路口有人占道经营，堵住了人行道",
        "first_name": "小明",
        "last_name": "王",
        "phone": "13912345678",
        "email": "wang@example.cn",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def post_form(c: Client, data: dict[str, Any], fmt: str = "json", **headers: Any) -> Any:
    """A form-encoded POST, as the spec has it."""
    return c.post(
        f"{BASE}/requests.{fmt}",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
        **headers,
    )


def filed(c: Client, key: str, **fields: Any) -> dict[str, Any]:
    r = post_form(c, form(key, **fields))
    assert r.status_code == 201, r.content.decode()
    return r.json()[0]  # type: ignore[no-any-return]


def xml(content: bytes) -> ET.Element:
    """Our own server's answer (never a client's XML: the platform parses none)."""
    return ET.fromstring(content)  # noqa: S314


def spec_error(r: Any, status: int) -> str:
    """The description of a GeoReport error answer (JSON or XML) with ``status``."""
    assert r.status_code == status, r.content.decode()[:2000]
    if r["Content-Type"].startswith("application/json"):
        body = r.json()
        assert isinstance(body, list) and body and set(body[0]) == {"code", "description"}
        assert body[0]["code"] == status
        return str(body[0]["description"])
    root = xml(r.content)
    assert root.tag == "errors" and root[0].tag == "error"
    assert [child.tag for child in root[0]] == ["code", "description"]
    assert root[0].findtext("code") == str(status)
    return root[0].findtext("description") or ""
