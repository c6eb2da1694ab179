"""The JSON API at /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI, Schema

from gridgov.accounts.auth import API_AUTH
from gridgov.accounts.scope import active_posts
from gridgov.core.errors import ServiceError, TooManyRequests
from gridgov.core.middleware import too_large
from gridgov.core.models import Heartbeat
from gridgov.core.schema import errors

from .events import public as events_public
from .events import router as events_router
from .mobile import router as mobile_router
from .notifications import router as notifications_router
from .patrol import router as patrol_router
from .public import router as public_router
from .regions import router as regions_router

api = NinjaAPI(title="gridgov API", version="1", urls_namespace="api")
api.add_router("/", regions_router)
api.add_router("/", events_router)
api.add_router("/", patrol_router)
api.add_router("/", notifications_router)
api.add_router("/public", events_public)
api.add_router("/public", public_router)
api.add_router("/mobile", mobile_router)


@api.exception_handler(RequestDataTooBig)
def data_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """Services say what is wrong; the answer carries it per field, like validation errors."""
    response = api.create_response(request, {"detail": exc.detail()}, status=exc.status)
    if isinstance(exc, TooManyRequests):
        response["Retry-After"] = str(exc.retry_after)
    return response


class HealthOut(Schema):
    status: str
    ticker_beat: str | None
    grids: int | None


class PostOut(Schema):
    id: int
    role: str
    org_unit: str
    scope_code: str


class MeOut(Schema):
    username: str
    display_name: str
    posts: list[PostOut]


@api.get("/health", auth=None, tags=["system"], response={200: HealthOut, **errors(422, 429)})
def health(request: HttpRequest, warm: bool = False) -> dict[str, Any]:
    """Liveness for load balancers: database reachable, ticker's last beat."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    beat = Heartbeat.objects.filter(name="ticker").values_list("beat_at", flat=True).first()
    grids = None
    if warm:
        from gridgov.regions.locator import get_locator

        grids = len(get_locator())
    beat_at = timezone.localtime(beat).isoformat() if beat else None
    return {"status": "ok", "ticker_beat": beat_at, "grids": grids}


@api.get("/me", response={200: MeOut, **errors(401, 429)}, auth=API_AUTH, tags=["accounts"])
def me(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", ""),
        "posts": [
            {"id": p.id, "role": p.role, "org_unit": p.org_unit.name, "scope_code": p.scope_code}
            for p in active_posts(user)
        ],
    }
