"""A person's notices in the console: the list (read when seen), and the ticket to the live
stream (``gridgov stream``) the header's bell listens on."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from gridgov.accounts import notifications
from gridgov.events import notices as texts


@login_required
@require_GET
def notices_page(request: HttpRequest) -> HttpResponse:
    """The newest notices; opening the page reads them."""
    seen = notifications.seen_up_to(request.user)
    rows = [texts.item(n, seen) for n in notifications.notices(request.user)]
    if rows:
        notifications.do_mark_seen(request.user, rows[0]["id"])
    return render(request, "console/notices.html", {"title": "", "rows": rows})


@require_GET
def ticket(request: HttpRequest) -> JsonResponse:
    """Where this console's live stream is, with a signed pass; no URL when none runs."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "signed out"}, status=401)
    if not settings.STREAM_URL:
        return JsonResponse({"url": ""})
    query = urlencode({"ticket": notifications.ticket(request.user)})
    return JsonResponse({"url": f"{settings.STREAM_URL}/stream?{query}"})
