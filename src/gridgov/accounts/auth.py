"""API authentication: session cookie (pages, with CSRF) or bearer token (app, integrations)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import HttpBearer, SessionAuth

from gridgov.core import throttle
from gridgov.core.errors import TooManyRequests

from .models import ApiToken

BAD_TOKENS = "api.bad_token"


class TokenAuth(HttpBearer):
    """Bearer tokens. An address that sent too many unknown or revoked tokens is refused
    (429) before its token is looked up, so guessing learns nothing, good token or bad."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        limit, period = settings.API_BAD_TOKEN_RATE
        ident = throttle.address_ident(throttle.client_ip(request))
        wait = throttle.blocked(BAD_TOKENS, ident, limit, period)
        if wait:
            raise TooManyRequests(_("Too many invalid API tokens from your address."), wait)
        found = ApiToken.lookup(token)
        if found is None:
            throttle.hit(BAD_TOKENS, ident, limit, period)  # counted, never audited one by one
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        return found.user


class PageSession(SessionAuth):
    """The browser's session, CSRF-checked; requests without the session cookie (the app and
    integrations, using bearer tokens) are not CSRF-checked for a cookie they do not send."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)


API_AUTH = [TokenAuth(), PageSession()]
