"""Rate limits shared by every worker process, kept in the database (SQLite or PostgreSQL).

``hit(name, ident, limit, period)`` counts one event for ``ident`` (an address, an account, a
device) in the current fixed window of ``period`` seconds and says whether it is within
``limit``; ``blocked(...)`` asks the same without counting. One upsert per hit, atomic on both
databases, so several gunicorn workers share each counter. Fixed windows: a burst straddling
a window boundary may reach twice the limit, never more.

``RateLimitMiddleware`` applies per-address limits to the path rules of ``RATE_LIMIT_RULES``
and turns ``TooManyRequests`` raised by a view into 429 with Retry-After.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import sql
from .errors import TooManyRequests
from .models import RateCounter

log = logging.getLogger(__name__)

# Expired windows are deleted by about one hit in this many.
PURGE_ONE_IN = 200


@dataclass(frozen=True)
class Hit:
    count: int  # events in this window, this one included
    limit: int
    retry_after: int  # seconds until the window ends

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit


def _window(period: int) -> tuple[int, int]:
    """(start of the current window, seconds until it ends), both whole seconds."""
    now = timezone.now().timestamp()
    start = int(now // period) * period
    return start, max(1, math.ceil(start + period - now))


def _table() -> str:
    return connection.ops.quote_name(RateCounter._meta.db_table)


def hit(name: str, ident: str, limit: int, period: int) -> Hit:
    """Count one event; ``Hit.allowed`` is False once the window holds more than ``limit``."""
    start, remaining = _window(period)
    count = bump(name, ident, start, start + period)
    if random.randrange(PURGE_ONE_IN) == 0:
        purge()
    return Hit(count, limit, remaining)


def bump(name: str, ident: str, window_start: int, expires_at: int) -> int:
    """Add one to a counter row (made if missing) and answer its new value: one atomic upsert,
    so concurrent callers each see a different count."""
    table = _table()  # the model's own table name, never input
    sql = (
        f"INSERT INTO {table} (name, ident, window_start, hits, expires_at) "  # noqa: S608
        "VALUES (%s, %s, %s, 1, %s) "
        "ON CONFLICT (name, ident, window_start) "
        f"DO UPDATE SET hits = {table}.hits + 1 RETURNING hits"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [name, ident[:200], window_start, expires_at])
        return int(cur.fetchone()[0])


def count(name: str, ident: str, period: int) -> int:
    start, _remaining = _window(period)
    where = "name = %s AND ident = %s AND window_start = %s"  # read on every API request
    found = sql.fetch(f"SELECT hits FROM {_table()} WHERE {where}", [name, ident[:200], start])  # noqa: S608
    return int(found[0][0]) if found else 0


def blocked(name: str, ident: str, limit: int, period: int) -> int:
    """Seconds to wait if one more hit would exceed ``limit``, else 0 (nothing is counted)."""
    if count(name, ident, period) < limit:
        return 0
    return _window(period)[1]


def clear(name: str, ident: str) -> None:
    """Forget every window of ``ident`` (e.g. when a security administrator lifts a lock)."""
    RateCounter.objects.filter(name=name, ident=ident[:200]).delete()


def purge() -> int:
    now = int(timezone.now().timestamp())
    return RateCounter.objects.filter(expires_at__lt=now).delete()[0]


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or, behind one of ``TRUSTED_PROXIES``, the
    right-most X-Forwarded-For entry that is not one of them (clients can forge the rest)."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = set(getattr(settings, "TRUSTED_PROXIES", ()))
    if remote not in trusted:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for addr in reversed([a for a in forwarded if a]):
        if addr not in trusted:
            return addr
    return remote


def address_ident(ip: str) -> str:
    """What a per-address limit counts: the address, or its /64 for IPv6 (one subscriber
    usually holds a whole /64, so counting single IPv6 addresses would limit nothing)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "-"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def too_many(request: HttpRequest, retry_after: int, message: str = "") -> HttpResponse:
    """429 with Retry-After: the API's error body under /api/, a plain page elsewhere."""
    message = message or _("Too many requests. Please try again in %(seconds)s seconds.") % {
        "seconds": retry_after
    }
    response: HttpResponse
    if request.path.startswith("/api/"):
        body = {"detail": [{"loc": ["request"], "msg": message, "type": "TooManyRequests"}]}
        response = JsonResponse(body, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


@dataclass(frozen=True)
class Rule:
    name: str
    methods: frozenset[str]
    path: re.Pattern[str]
    limit: int
    period: int

    @classmethod
    def from_setting(cls, rule: dict[str, Any]) -> Rule:
        limit, period = rule["rate"]
        methods = frozenset(m.upper() for m in rule.get("methods", ("POST",)))
        return cls(rule["name"], methods, re.compile(rule["path"]), int(limit), int(period))

    def matches(self, request: HttpRequest) -> bool:
        return request.method in self.methods and bool(self.path.search(request.path))


class RateLimitMiddleware:
    """Per-address limits on the paths of ``RATE_LIMIT_RULES`` (login, public API, …)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.rules = [Rule.from_setting(r) for r in settings.RATE_LIMIT_RULES]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for rule in self.rules:
            if not rule.matches(request):
                continue
            ident = address_ident(client_ip(request))
            result = hit(rule.name, ident, rule.limit, rule.period)
            if not result.allowed:
                if result.count == rule.limit + 1:  # log once per window, not per request
                    log.warning("rate limit %s reached by %s", rule.name, ident)
                return too_many(request, result.retry_after)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, TooManyRequests):
            return too_many(request, exc.retry_after, exc.message)
        return None
