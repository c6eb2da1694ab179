"""The grid workers' app: one page (the shell) that the service worker keeps, so the app opens
with no signal; its data comes from /api/v1/mobile/ and lives on the phone."""

from __future__ import annotations

import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .strings import STRINGS

ICON_SIZES = (192, 512)
# The files the app needs with no network; the service worker stores them at install.
ASSETS = (
    "gridgov/base.css",
    "mobile/app.css",
    "mobile/store.js",
    "mobile/photos.js",
    "mobile/app.js",
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet/images/marker-icon.png",
    "vendor/leaflet/images/marker-icon-2x.png",
    "vendor/leaflet/images/marker-shadow.png",
)


def _no_cache(response: HttpResponse) -> HttpResponse:
    # The service worker decides what is kept; the browser's HTTP cache must not serve stale
    # copies of the shell or the worker itself.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def shell(request: HttpRequest) -> HttpResponse:
    """The app's one page; it holds no one's data (the service worker keeps it for everyone)."""
    strings = {key: str(text) for key, text in STRINGS.items()}
    tiles = {"url": settings.MAP_TILES_URL, "attribution": settings.MAP_TILES_ATTRIBUTION}
    context = {"strings": strings, "tiles": tiles}
    return _no_cache(render(request, "mobile/app.html", context))


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    app = reverse("mobile:app")
    data = {
        "name": _("gridgov grid worker"),
        "short_name": _("Grid worker"),
        "lang": "zh-CN",
        "start_url": app,
        "scope": app,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#1d4e89",
        "icons": [
            {
                "src": reverse("mobile:icon", args=[size]),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
            for size in ICON_SIZES
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return _no_cache(response)


@lru_cache(maxsize=1)
def _version() -> str:
    """Changes whenever an asset or the shell changes, so phones take the new app."""
    digest = hashlib.sha256()
    for name in ASSETS:
        path = finders.find(name)
        if path:
            with open(str(path), "rb") as fh:
                digest.update(fh.read())
    for name in ("mobile/app.html", "mobile/sw.js"):
        digest.update(get_template(name).template.source.encode())  # type: ignore[attr-defined]
    # The shell also carries the translations and the basemap's address.
    for mo in sorted(Path(__file__).resolve().parent.parent.glob("locale/*/LC_MESSAGES/django.mo")):
        digest.update(mo.read_bytes())
    digest.update(settings.MAP_TILES_URL.encode())
    return digest.hexdigest()[:16]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    app = reverse("mobile:app")
    urls = [app, reverse("mobile:manifest")] + [static(a) for a in ASSETS]
    urls += [reverse("mobile:icon", args=[s]) for s in ICON_SIZES]
    response = render(
        request,
        "mobile/sw.js",
        {"version": _version(), "urls": json.dumps(urls), "shell": json.dumps(app)},
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = app
    return _no_cache(response)


@lru_cache(maxsize=len(ICON_SIZES))
def _icon_png(size: int) -> bytes:
    """The app's icon, drawn here (a blue tile with a white grid) rather than kept as a file."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), "#1d4e89")
    draw = ImageDraw.Draw(im)
    m, w = size // 5, max(2, size // 40)
    for i in range(4):
        x = m + i * (size - 2 * m) // 3
        draw.line([(x, m), (x, size - m)], fill="white", width=w)
        draw.line([(m, x), (size - m, x)], fill="white", width=w)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


@require_GET
def icon(request: HttpRequest, size: int) -> HttpResponse:
    if size not in ICON_SIZES:
        raise Http404()
    response = HttpResponse(_icon_png(size), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response
