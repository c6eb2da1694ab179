"""GeoReport v2 at /open311/v2/: thin views (parse, limit, call, render).

Every endpoint answers ``.json`` or ``.xml``; a path without a suffix answers XML, the format
the spec requires. Errors always come in the spec's shape, with the spec's codes: 400 bad
input, 403 bad api_key, 404 unknown jurisdiction, service or request, 405 wrong method, 429
past a limit (with Retry-After).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from gridgov.core import throttle
from gridgov.core.errors import Forbidden, Invalid, NotFound, ServiceError, TooManyRequests

from . import forms, presenters, queries, services
from .middleware import format_of
from .models import ApiKey

View = Callable[..., HttpResponse]
FORM = "application/x-www-form-urlencoded"
BUSY = "Too many requests for this API key or address. Try again after Retry-After seconds."


def endpoint(*methods: str) -> Callable[[View], View]:
    """Method check (405), the jurisdiction (404), and every refusal in the spec's format."""

    def wrap(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def run(request: HttpRequest, fmt: str | None = None, **kw: Any) -> HttpResponse:
            fmt = fmt or "xml"
            if request.method not in methods:
                answer = presenters.errors(fmt, 405, [f"use {' or '.join(methods)}"])
                answer["Allow"] = ", ".join(methods)
                return answer
            try:
                _jurisdiction(request)
                return view(request, fmt, **kw)
            except ServiceError as exc:
                return _refused(fmt, exc)
            except (RequestDataTooBig, SuspiciousOperation):
                return presenters.errors(fmt, 400, ["the request is too large or malformed"])

        return run

    return wrap


def _refused(fmt: str, exc: ServiceError) -> HttpResponse:
    status = 400 if isinstance(exc, Invalid) else exc.status
    if isinstance(exc, Invalid):
        descriptions = [f"{field}: {message}" for field, message in exc.errors.items()]
    else:
        descriptions = [f"{exc.field}: {exc.message}" if exc.field else exc.message]
    answer = presenters.errors(fmt, status, descriptions)
    if isinstance(exc, TooManyRequests):
        answer["Retry-After"] = str(exc.retry_after)
    return answer


def _params(request: HttpRequest) -> QueryDict:
    """The GET's query, or the POST's form (only a form body is ever parsed)."""
    if request.method != "POST":
        return request.GET
    return request.POST if request.content_type == FORM else QueryDict()


def _jurisdiction(request: HttpRequest) -> None:
    given = forms.one(_params(request), "jurisdiction_id")
    if given and given != settings.OPEN311_JURISDICTION:
        served = settings.OPEN311_JURISDICTION
        raise NotFound(f"jurisdiction_id: unknown; this endpoint serves {served}")


def _limit(name: str, ident: str, rate: tuple[int, int]) -> None:
    hit = throttle.hit(name, ident, *rate)
    if not hit.allowed:
        raise TooManyRequests(BUSY, hit.retry_after)


def _address(request: HttpRequest) -> str:
    return throttle.address_ident(throttle.client_ip(request))


def _caller(request: HttpRequest, required: bool) -> ApiKey | None:
    """The key sent as api_key, counted against its rate. Requests without a key, and with a
    wrong or revoked one, count against the address."""
    raw = forms.one(_params(request), "api_key")
    key = queries.key(raw) if raw else None
    if key is None:
        _limit("o311-a", _address(request), settings.OPEN311_ADDRESS_RATE)
        if raw or required:
            raise Forbidden("api_key: missing, unknown or revoked")
        return None
    _limit("o311-k", str(key.pk), services.limit_of(key))
    return key


# ----------------------------------------------------------------------------- services


@endpoint("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    _caller(request, required=False)
    data = [presenters.service(c) for c in queries.services()]
    return presenters.render(data, fmt, "services", "service")


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    _caller(request, required=False)
    category = queries.service(code)
    if category is None:
        raise NotFound(f"service_code: no service {code}")
    return presenters.render(presenters.definition(category), fmt, "service_definition")


# ----------------------------------------------------------------------------- requests


@endpoint("GET", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _post(request, fmt)
    key = _caller(request, required=False)
    found = queries.requests(key.client if key else "", forms.filters(request.GET))
    data = [presenters.request(f) for f in found]
    return presenters.render(data, fmt, "service_requests", "request")


def _post(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.content_type != FORM:
        raise Invalid({"Content-Type": "send application/x-www-form-urlencoded"})
    key = _caller(request, required=True)
    assert key is not None
    code = forms.one(request.POST, "service_code")
    if not code:
        raise Invalid({"service_code": "required"})
    category = queries.service(code)
    if category is None:
        raise Invalid({"service_code": "not a service of this endpoint (see services.json)"})
    sub = forms.submission(request.POST, category)
    done = services.do_submit(key, sub, request.headers.get("Idempotency-Key", ""))
    data = [presenters.filed(done.intake.event.code, done.request, done.intake.receipt)]
    return presenters.render(data, fmt, "service_requests", "request", status=201)


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    key = _caller(request, required=False)
    found = queries.requests(key.client if key else "", queries.Filters(ids=[request_id]))
    if not found:
        raise NotFound(f"service_request_id: no request {request_id}")
    return presenters.render([presenters.request(found[0])], fmt, "service_requests", "request")


@endpoint("GET")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    _caller(request, required=False)
    row = queries.token(token)
    if row is None:
        raise NotFound("token: unknown")
    return presenters.render([presenters.token(row)], fmt, "service_requests", "request")


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    descriptions = ["no such endpoint: see services, requests and tokens (.json or .xml)"]
    return presenters.errors(format_of(request.path), 404, descriptions)
