"""Errors Django or another middleware answers under /open311/v2/ (the body limit's 413, a
server error's 500, …) re-told in the GeoReport format, so a client always reads one shape."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .presenters import CONTENT_TYPES, errors

PREFIX = "/open311/v2/"


def format_of(path: str) -> str:
    """The format a path asks for: .json, else XML (the spec's required format)."""
    return "json" if path.endswith(".json") else "xml"


def _message(response: HttpResponse) -> str:
    """A short plain-text message as it was (the body limit's), else the status's phrase."""
    streaming = getattr(response, "streaming", False)
    plain = response.get("Content-Type", "").startswith("text/plain")
    if plain and not streaming and len(response.content) <= 300:
        return response.content.decode("utf-8", "replace").strip() or response.reason_phrase
    return response.reason_phrase or "error"


class Open311ErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "") in CONTENT_TYPES.values():
            return response  # ours already
        answer = errors(format_of(request.path), response.status_code, [_message(response)])
        for header, value in response.items():  # Allow, Retry-After, security headers
            if header.lower() not in ("content-type", "content-length"):
                answer[header] = value
        return answer
