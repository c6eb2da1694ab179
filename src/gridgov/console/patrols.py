"""The centre's view of patrols (巡查): a day's patrols in the viewer's scope with their tracks
and check-ins on a map, the grids nobody walked through that day, and one patrol's page. Thin:
reads through patrol.queries (the one scope filter), data through patrol.presenters."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from gridgov.patrol import presenters, queries

from . import surfaces
from .forms import PatrolDayForm

PAGE_SIZE = 50
MAP_PATROLS = 100  # tracks drawn on the day's map (the newest patrols)
MAP_POINTS = 300  # points per track on the day's map (thinned evenly)
DETAIL_POINTS = 5000  # points of one patrol's track on its page
MAP_CHECKPOINTS = 2000


def _tiles() -> dict[str, str]:
    return {"url": settings.MAP_TILES_URL, "attribution": settings.MAP_TILES_ATTRIBUTION}


def _day(form: PatrolDayForm) -> date:
    return form.cleaned_data.get("day") or timezone.localdate()


@login_required
@require_GET
def patrols(request: HttpRequest) -> HttpResponseBase:
    """A day's patrols in scope (today by default), their map, and the unpatrolled grids."""
    if not surfaces.has_patrols(request.user):
        return redirect("console:home")
    form = PatrolDayForm(request.GET)
    if not form.is_valid():
        context = {"title": _("Patrols"), "form": form, "page": None}
        return render(request, "console/patrols.html", context, status=400)
    day = _day(form)
    qs = queries.with_details(queries.patrols(request.user, "list", day=day))
    page = Paginator(qs, PAGE_SIZE).get_page(form.cleaned_data.get("page") or 1)
    unpatrolled, unpatrolled_total = queries.unpatrolled(request.user, day)
    context = {
        "title": _("Patrols"),
        "form": form,
        "day": day,
        "page": page,
        "rows": [presenters.row(p) for p in page.object_list],
        "unpatrolled": unpatrolled,
        "unpatrolled_total": unpatrolled_total,
        "unpatrolled_limit": queries.UNPATROLLED_LIMIT,
        "tiles": _tiles(),
    }
    return render(request, "console/patrols.html", context)


@login_required
@require_GET
def patrols_map(request: HttpRequest) -> JsonResponse:
    """The day's map: the newest patrols' tracks (thinned) and check-ins, and the checkpoints
    in scope."""
    if not surfaces.has_patrols(request.user):
        return JsonResponse({"error": "not yours to see"}, status=403)
    form = PatrolDayForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    qs = queries.with_details(queries.patrols(request.user, "map", day=_day(form)))
    shown = list(qs[: MAP_PATROLS + 1])
    points = queries.tracks([p.pk for p in shown[:MAP_PATROLS]])
    places = list(queries.checkpoints(request.user, "map")[: MAP_CHECKPOINTS + 1])
    return JsonResponse(
        {
            "patrols": [
                presenters.map_patrol(p, points[p.pk], MAP_POINTS) for p in shown[:MAP_PATROLS]
            ],
            "truncated": len(shown) > MAP_PATROLS,
            "checkpoints": [presenters.map_checkpoint(c) for c in places[:MAP_CHECKPOINTS]],
        }
    )


@login_required
@require_GET
def patrol_page(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """One patrol: who, where, when, its track and its check-ins."""
    if not surfaces.has_patrols(request.user):
        raise Http404()
    p = queries.patrol(request.user, pk)
    if p is None:
        raise Http404()
    places = queries.checkpoints(request.user, "map", under=p.grid_code)
    visited = {c.checkpoint for c in p.checkins.all()}
    data: dict[str, Any] = {
        "patrols": [presenters.map_patrol(p, queries.track(p), DETAIL_POINTS)],
        "checkpoints": [
            presenters.map_checkpoint(c) for c in {*places[:MAP_CHECKPOINTS], *visited}
        ],
    }
    context = {
        "title": _("Patrol"),
        "patrol": presenters.row(p),
        "map_data": data,
        "tiles": _tiles(),
    }
    return render(request, "console/patrol.html", context)
