"""Per-request context and security headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse

from .audit import current_source_ip
from .throttle import client_ip


def tile_source() -> str:
    """The configured map tile server's origin, which pages may load images from (none by
    default: the platform itself is the only source)."""
    url = getattr(settings, "MAP_TILES_URL", "")
    if not url:
        return ""
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[A-Za-z0-9.*:-]+", parts.netloc):
        return ""  # nothing that could break out of the policy
    return f" {parts.scheme}://{parts.netloc}"


def stream_source() -> str:
    """The live stream's origin (``gridgov stream``), which consoles open an event stream to,
    when it is not the platform's own."""
    parts = urlsplit(getattr(settings, "STREAM_URL", ""))
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[A-Za-z0-9.:-]+", parts.netloc):
        return ""
    return f" {parts.scheme}://{parts.netloc}"


def csp() -> str:
    """The pages' Content-Security-Policy: everything from the platform itself, plus images from
    a configured map tile source."""
    return _csp(getattr(settings, "MAP_TILES_URL", ""), getattr(settings, "STREAM_URL", ""))


@lru_cache(maxsize=8)
def _csp(tiles: str, stream: str) -> str:  # worked out once per pair of settings
    return "; ".join(
        [
            "default-src 'self'",
            "connect-src 'self'" + stream_source(),
            "img-src 'self' data: blob:" + tile_source(),
            "style-src 'self' 'unsafe-inline'",
            "media-src 'self' blob:",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The client's address as the rate limits see it (X-Forwarded-For only from a
        # trusted proxy), so audit rows behind nginx do not all show the proxy.
        token = current_source_ip.set(client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            current_source_ip.reset(token)
        response.headers.setdefault("Content-Security-Policy", csp())
        return response


def _error(request: HttpRequest, status: int, message: str, kind: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"detail": [{"loc": ["request"], "msg": message, "type": kind}]}
        return JsonResponse(body, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return _error(
        request, 413, f"the request body may be at most {limit:,} bytes", "RequestTooLarge"
    )


class ApiJsonErrorsMiddleware:
    """Every error under /api/ answers in the API's JSON shape — also the ones Django makes
    itself (unknown path 404, wrong method 405, unreadable multipart 400, CSRF 403)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            original = response
            message = original.reason_phrase or "error"
            response = _error(request, original.status_code, message, "HttpError")
            for header, value in original.items():  # Allow, Retry-After, security headers
                if header.lower() not in ("content-type", "content-length"):
                    response[header] = value
        return response


def body_limit(path: str) -> int:
    """The largest body a path accepts: the first matching prefix of REQUEST_BODY_LIMITS."""
    for prefix, limit in settings.REQUEST_BODY_LIMITS:
        if path.startswith(prefix):
            return int(limit)
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


class BodyLimitMiddleware:
    """Refuse an oversized body from its Content-Length, before a byte of it is read, so a
    300 MB upload costs the worker nothing. Django reads no more than Content-Length, and a
    body without one (chunked) is not read at all."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request.path)
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # Django would read such a body as empty; say so instead of answering for a
            # request the client did not send.
            return _error(request, 411, "send the body with a Content-Length", "LengthRequired")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return too_large(request, limit)
        return self.get_response(request)


# ---------------------------------------------------------------- the bearer-token lane

LANE = "_gridgov_bearer_only"


def bearer_only(request: HttpRequest) -> bool:
    """An API call that authenticates with a bearer token alone, with no session cookie (the
    grid workers' app, department systems, channel adapters): it has no session to load,
    no CSRF cookie to check and no messages to keep."""
    found = getattr(request, LANE, None)
    if found is None:
        found = (
            request.path.startswith("/api/")
            and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        )
        setattr(request, LANE, found)
    return bool(found)


def browser_only(cls: Any) -> Any:
    """Middleware ``cls`` for every request but bearer-token API calls, which pass it by
    (about 0.4 ms of a report's CPU; docs/performance.md). Such a call's user is anonymous
    until its token is checked."""

    class BrowserOnly(cls):
        def __call__(self, request: HttpRequest) -> HttpResponse:
            if bearer_only(request):
                if not hasattr(request, "user"):
                    request.user = AnonymousUser()
                return self.get_response(request)
            return super().__call__(request)

        def process_view(self, request: HttpRequest, *args: Any) -> HttpResponse | None:
            if bearer_only(request):
                return None
            parent = getattr(super(), "process_view", None)
            return parent(request, *args) if parent else None

    BrowserOnly.__name__ = BrowserOnly.__qualname__ = cls.__name__
    BrowserOnly.__module__ = __name__
    return BrowserOnly
