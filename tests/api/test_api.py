"""API basics: health, identity, token auth, OpenAPI, validation errors."""

from __future__ import annotations

import pytest
from django.test import Client

from gridgov.accounts.models import ApiToken
from gridgov.core.models import AuditLog

from ..factories import user_with_post

pytestmark = pytest.mark.django_db


def test_health_needs_no_login() -> None:
    body = Client().get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert Client().get("/api/v1/health?warm=1").json()["grids"] > 0


def test_openapi_describes_the_api() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert {"/api/v1/grids", "/api/v1/locate", "/api/v1/me"} <= set(schema["paths"])


def test_bearer_token_auth_and_revocation() -> None:
    user = user_with_post("grid_worker", "130104008019008")
    token, raw = ApiToken.issue(user, "phone")
    c = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = c.get("/api/v1/me").json()
    assert me["username"] == user.username and me["posts"][0]["scope_code"] == "130104008019008"
    token.revoked = True
    token.save()
    assert c.get("/api/v1/me").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer nonsense").get("/api/v1/me").status_code == 401


def test_bad_parameters_get_field_level_422() -> None:
    c = Client()
    c.force_login(user_with_post("operator", "130104"))
    r = c.get("/api/v1/grids?limit=100000&under=abc")
    assert r.status_code == 422
    fields = {tuple(e["loc"])[-1] for e in r.json()["detail"]}
    assert fields == {"limit", "under"}


def test_exports_are_audited() -> None:
    c = Client()
    user = user_with_post("operator", "130104008")
    c.force_login(user)
    n = len(c.get("/api/v1/grids/export").json()["features"])
    row = AuditLog.objects.filter(action="grids.export").latest("seq")
    assert row.actor_id == user.pk and row.detail["features"] == n > 0


def test_every_page_has_a_content_security_policy() -> None:
    for url in ["/", "/api/v1/health", "/admin/login/"]:
        assert "default-src 'self'" in Client().get(url)["Content-Security-Policy"]


def test_token_clients_need_no_csrf_but_browser_sessions_do() -> None:
    import uuid

    from ..helpers import point_in

    user = user_with_post("operator", "130104")
    _, raw = ApiToken.issue(user, "app")
    lon, lat = point_in("130104008019008")
    body = {
        "client_id": str(uuid.uuid4()),
        "channel": "app",
        "title": "t",
        "description": "d",
        "lon": lon,
        "lat": lat,
    }
    app = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert app.post("/api/v1/events", body, content_type="application/json").status_code == 201
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    body["client_id"] = str(uuid.uuid4())
    assert browser.post("/api/v1/events", body, content_type="application/json").status_code == 403
