"""Per-request context and security headers."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .audit import current_source_ip
from .throttle import client_ip

CSP = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "style-src 'self' 'unsafe-inline'",
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
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    message = f"the request body may be at most {limit:,} bytes"
    if request.path.startswith("/api/"):
        body = {"detail": [{"loc": ["body"], "msg": message, "type": "RequestTooLarge"}]}
        return JsonResponse(body, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


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
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return too_large(request, limit)
        return self.get_response(request)
