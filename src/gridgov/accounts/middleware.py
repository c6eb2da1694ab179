"""Session rules beyond Django's: an absolute lifetime, and a forced change of an expired password.

Idle expiry counts from the last activity written to the session. It is written at most once a
minute (``ACTIVITY_STEP_SECONDS``): a session is saved only when it changes, so most requests
(and every passive poll) read it without writing; the stored row and the cookie then expire
SESSION_COOKIE_AGE after that same write, so an idle session ends at most a minute early, never
late. The session id changes at sign-in (django.contrib.auth.login cycles the key). Bearer-token
API calls carry no session and are left alone by both middlewares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .passwords import expired

SIGNED_IN_AT = "gridgov_signed_in_at"
LAST_ACTIVE = "gridgov_last_active"
# Requests a page makes by itself (a console's live-update poll) carry this header: they do not
# keep an unattended session alive.
PASSIVE_HEADER = "X-Gridgov-Passive"
LOGOUT_REASON = "_gridgov_logout_reason"
# Activity moves the session's idle clock forward (and saves the session) at most this often.
ACTIVITY_STEP_SECONDS = 60


def stamp_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """user_logged_in receiver: when this session signed in, for the absolute limit."""
    if request is not None and hasattr(request, "session"):
        now = int(timezone.now().timestamp())
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_ACTIVE] = now  # idle from here: passive polls alone do not count


def _bearer(request: HttpRequest) -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


class SessionLimitMiddleware:
    """Sign a session out ``SESSION_ABSOLUTE_SECONDS`` after it signed in, however active, and
    after ``SESSION_COOKIE_AGE`` seconds without a request the person made (polls a page makes
    by itself do not count). A session without a sign-in time counts as expired."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not _bearer(request):
            reason = self._expired(request)
            if reason:
                setattr(request, LOGOUT_REASON, reason)
                logout(request)  # audited by core.signals; the request goes on anonymous
            elif not request.headers.get(PASSIVE_HEADER):
                self._active(request)
        return self.get_response(request)

    @staticmethod
    def _active(request: HttpRequest) -> None:
        now = int(timezone.now().timestamp())
        last = request.session.get(LAST_ACTIVE)
        if not isinstance(last, int) or now - last >= ACTIVITY_STEP_SECONDS or now < last:
            request.session[LAST_ACTIVE] = now  # modified: saved, cookie renewed

    def _expired(self, request: HttpRequest) -> str:
        now = timezone.now().timestamp()
        limit = int(settings.SESSION_ABSOLUTE_SECONDS)
        signed_in = request.session.get(SIGNED_IN_AT)
        if limit > 0 and (not isinstance(signed_in, int) or now - signed_in > limit):
            return "session_limit"
        last = request.session.get(LAST_ACTIVE)
        if isinstance(last, int) and now - last > int(settings.SESSION_COOKIE_AGE):
            return "idle"
        return ""


def _exempt_paths() -> tuple[str, ...]:
    names = ("admin:password_change", "admin:password_change_done", "admin:logout")
    return (*(reverse(n) for n in names), settings.STATIC_URL or "/static/")


class PasswordExpiryMiddleware:
    """A session user whose password expired may only change it: pages redirect to the
    password change page, session API calls get 403."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._must_change(request):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            message = _("Your password has expired. Change it before going on.")
            body = {"detail": [{"loc": ["request"], "msg": message, "type": "PasswordExpired"}]}
            return JsonResponse(body, status=403)
        return redirect("admin:password_change")

    def _must_change(self, request: HttpRequest) -> bool:
        if _bearer(request) or not request.user.is_authenticated:
            return False
        if request.path.startswith(_exempt_paths()):
            return False
        return expired(request.user)


ACTIVE_POST = "gridgov_post"


def choose_post(request: HttpRequest, post_id: int | None) -> bool:
    """Work as one of one's own active posts (None: as all of them). False if not one's own."""
    if post_id is None:
        request.session.pop(ACTIVE_POST, None)
        return True
    if not request.user.posts.filter(pk=post_id, active=True).exists():  # type: ignore[union-attr]
        return False
    request.session[ACTIVE_POST] = post_id
    return True


class ActivePostMiddleware:
    """A person holding several posts works as the one chosen in the session: every scope,
    rule and list then answers for that post alone (accounts.scope.active_posts)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.session.get(ACTIVE_POST) if hasattr(request, "session") else None
        user = request.user
        if isinstance(chosen, int) and user.is_authenticated and not _bearer(request):
            posts = list(user.posts.filter(pk=chosen, active=True).select_related("org_unit"))
            if posts:
                setattr(user, "_gridgov_posts", posts)  # noqa: B010  (scope's cache)
            else:
                request.session.pop(ACTIVE_POST, None)  # the post ended: back to all
        return self.get_response(request)
