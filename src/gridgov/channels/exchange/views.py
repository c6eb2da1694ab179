"""The exchange's HTTP door: children POST signed batches; the parent's staff read the nodes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from gridgov.accounts.auth import TokenAuth
from gridgov.core.errors import Forbidden, Invalid, ServiceError
from gridgov.core.scope import can, restrict

from . import queries, receiver, wire
from .models import Node


def _error(exc: ServiceError, status: int) -> JsonResponse:
    errors = exc.errors if isinstance(exc, Invalid) else {"request": exc.message}
    return JsonResponse({"errors": errors}, status=status)


@csrf_exempt  # signed by the child's key, not a browser form
@require_POST
def items(request: HttpRequest) -> JsonResponse:
    body = request.body
    try:
        node = receiver.authenticate(
            request.headers.get(wire.NODE, ""),
            request.headers.get(wire.TIMESTAMP, ""),
            request.headers.get(wire.SIGNATURE, ""),
            body,
        )
    except Forbidden as exc:
        return _error(exc, 403)
    try:
        checked = receiver.parse(body, node)
        stored = receiver.store(node, checked)
    except Invalid as exc:
        return _error(exc, 400)
    return JsonResponse(stored)  # after the commit


def _reader(request: HttpRequest) -> Any:
    if request.user.is_authenticated:
        return request.user
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return TokenAuth()(request)
    return None


@require_GET
def nodes(request: HttpRequest) -> JsonResponse:
    try:
        user = _reader(request)
    except ServiceError as exc:
        return _error(exc, exc.status)
    if user is None:
        return JsonResponse({"errors": {"request": "sign in or send a token"}}, status=401)
    # Those who read the organisation (centres, leaders, the system administrator), for the
    # nodes under their scope: a node is named by its region code.
    if not can(user, "orgunit", "list"):
        return JsonResponse({"errors": {"request": "your posts do not follow nodes"}}, status=403)
    return JsonResponse({"nodes": queries.nodes(list(restrict(Node.objects.all(), user, "list")))})
