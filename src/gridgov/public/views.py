"""The citizens' pages (H5, no account): report a problem, follow it, and the square map.
Pages only: everything they show or send goes through /api/v1/public/ (api/public.py). They
open in any phone browser and inside WeChat's, and hold no one's data."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .strings import strings


def _context(page: str) -> dict[str, Any]:
    return {
        "page": page,
        "strings": strings(),
        "map": {
            "tiles": settings.MAP_TILES_URL,
            "attribution": settings.MAP_TILES_ATTRIBUTION,
            "crs": settings.MAP_TILES_CRS,
            "approval": settings.MAP_APPROVAL_NUMBER,
            "centre": settings.PUBLIC_MAP_CENTRE,
        },
    }


def _page(request: HttpRequest, template: str, page: str) -> HttpResponse:
    response = render(request, template, _context(page))
    # WeChat's browser caches pages whatever the headers say; the assets are versioned by
    # the static storage, and the page itself is asked for again each time.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def report(request: HttpRequest) -> HttpResponse:
    return _page(request, "public/report.html", "report")


@require_GET
def track(request: HttpRequest) -> HttpResponse:
    return _page(request, "public/track.html", "track")


@require_GET
def square(request: HttpRequest) -> HttpResponse:
    return _page(request, "public/square.html", "square")
