"""The command views beside the work lists: the supervision board (督办), the map, the leader
wall (大屏) and the grid pages. Thin like views.py: reads through analytics/events/regions
queries (the one scope filter), figures through presenters, changes through services."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from gridgov.accounts import services as staff
from gridgov.analytics import presenters as figures
from gridgov.analytics import queries as analytics
from gridgov.core.errors import ServiceError
from gridgov.core.scope import prefixes
from gridgov.events import presenters
from gridgov.events.queries import HISTORY_ORDER, WORK_ORDER, Filters, WorkList, filtered
from gridgov.events.queries import events as events_in_scope
from gridgov.events.states import OPEN, State
from gridgov.regions import queries as places

from . import surfaces
from .export import export_response, wants_export
from .forms import AssignForm, BBoxForm, FilterForm, GridSearchForm, MapForm
from .rows import work_rows

OPEN_STATES = sorted(s.value for s in OPEN)
CLOSED_STATES = [State.CLOSED.value, State.ARCHIVED.value]


def _page(work: WorkList, form: Any) -> tuple[Any, list[dict[str, Any]]]:
    size = form.cleaned_data.get("size") or 20
    page = Paginator(cast(Any, work), size, allow_empty_first_page=True).get_page(
        form.cleaned_data.get("page") or 1
    )
    now = timezone.now()
    return page, work_rows(page.object_list, now)


def _query(request: HttpRequest, *drop: str) -> str:
    query = request.GET.copy()
    for name in ("page", "export", *drop):
        query.pop(name, None)
    return query.urlencode()


# ----------------------------------------------------------------------------- the board


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponseBase:
    """Open events at risk, overdue, escalated, returned back and forth, or urged: counted by
    region and by department, and listed (the list exports like any other)."""
    if not surfaces.has_board(request.user):
        return redirect("console:home")
    form = FilterForm(request.GET)
    if not form.is_valid():
        return render(
            request, "console/board.html", {"form": form, "title": _("Supervision")}, status=400
        )
    now = timezone.now()
    groups = analytics.board_groups(now)
    tab = form.cleaned_data.get("tab") or "overdue"
    tab = tab if tab in groups else "overdue"
    f = form.filters()
    work = analytics.board_list(request.user, tab, f, now)
    title = _("Supervision")
    if wants_export(request):
        return export_response(request, work, f"board-{tab}", title, form.cleaned_data)
    reach = prefixes(request.user, "event", "list") or ["0"]
    data = figures.board(request.user, f, now, analytics.child_length(reach))
    page, rows = _page(work, form)
    context = {
        "title": title,
        "form": form,
        "tab": tab,
        "board": data,
        "rows": rows,
        "page": page,
        "query": _query(request, "tab"),
    }
    return render(request, "console/board.html", context)


# ----------------------------------------------------------------------------- the map


@login_required
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    form = MapForm(request.GET)
    status = 200 if form.is_valid() else 400
    context = {
        "title": _("Map"),
        "form": form,
        "query": _query(request),
        "tiles": {"url": settings.MAP_TILES_URL, "attribution": settings.MAP_TILES_ATTRIBUTION},
    }
    return render(request, "console/map.html", context, status=status)


def _states(show: str) -> list[str]:
    return {"closed": CLOSED_STATES, "all": [s.value for s in State]}.get(show, OPEN_STATES)


@login_required
@require_GET
def map_events(request: HttpRequest) -> JsonResponse:
    """The newest events in scope under the map's filters: point, state, code, title."""
    form = MapForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    rows, total = analytics.map_events(
        request.user, form.filters(), _states(form.cleaned_data.get("show") or "open")
    )
    now = timezone.now()
    points = [
        {
            "code": r["code"],
            "lat": r["lat"],
            "lon": r["lon"],
            "state": r["state"],
            "state_label": presenters.state_label(r["state"]),
            "title": r["title"],
            "urgent": r["urgency"] == "urgent",
            "overdue": r["due_at"] is not None and r["state"] in OPEN_STATES and r["due_at"] < now,
        }
        for r in rows
    ]
    return JsonResponse({"total": total, "shown": len(points), "events": points})


GRID_MAP_LIMIT = 2000


@login_required
@require_GET
def map_grids(request: HttpRequest) -> JsonResponse:
    """The current grids in scope that meet the map's view (at most GRID_MAP_LIMIT)."""
    form = BBoxForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    qs = places.grids(request.user, "map")
    if form.cleaned_data["codes"]:
        qs = qs.filter(code__in=form.cleaned_data["codes"])
    if form.cleaned_data["bbox"]:
        w, s, e, n = form.cleaned_data["bbox"]
        qs = qs.filter(min_lon__lte=e, max_lon__gte=w, min_lat__lte=n, max_lat__gte=s)
    found = list(qs.values("code", "name", "kind", "boundary")[: GRID_MAP_LIMIT + 1])
    return JsonResponse({"truncated": len(found) > GRID_MAP_LIMIT, "grids": found[:GRID_MAP_LIMIT]})


# ----------------------------------------------------------------------------- the wall


@login_required
@require_GET
def wall(request: HttpRequest) -> HttpResponse:
    if analytics.stats_prefixes(request.user) is None:
        return render(request, "console/no_wall.html", status=403)
    context = {"title": _("Command wall"), "time_zone": settings.TIME_ZONE}
    return render(request, "console/wall.html", context)


@login_required
@require_GET
def wall_data(request: HttpRequest) -> JsonResponse:
    reach = analytics.stats_prefixes(request.user)
    if reach is None:
        return JsonResponse({"error": "the wall covers a township or more"}, status=403)
    return JsonResponse(figures.wall(reach, timezone.now()))


# ----------------------------------------------------------------------------- grids


@login_required
@require_GET
def grids(request: HttpRequest) -> HttpResponse:
    form = GridSearchForm(request.GET)
    if not form.is_valid():
        return render(
            request, "console/grids.html", {"form": form, "title": _("Grids")}, status=400
        )
    qs = places.grids(request.user, "list", q=form.cleaned_data.get("q") or "")
    page = Paginator(qs.select_related("village"), 50).get_page(form.cleaned_data.get("page") or 1)
    codes = [g.code for g in page.object_list]
    context = {
        "title": _("Grids"),
        "form": form,
        "page": page,
        "open": analytics.open_by_grid(request.user, codes),
        "query": _query(request),
    }
    return render(request, "console/grids.html", context)


def _grid_or_404(request: HttpRequest, code: str) -> Any:
    if not (len(code) == 15 and code.isascii() and code.isdigit()):
        raise Http404()
    grid = (
        places.grids(request.user, "view").filter(code=code[:15]).select_related("village").first()
    )
    if grid is None:
        raise Http404()
    return grid


@login_required
@require_GET
def grid_page(request: HttpRequest, code: str) -> HttpResponseBase:
    """One grid: its workers, its open events and its history; workers assigned here."""
    grid = _grid_or_404(request, code)
    return _grid_render(request, grid, AssignForm(), 200)


def _grid_render(
    request: HttpRequest, grid: Any, assign: AssignForm, status: int
) -> HttpResponseBase:
    form = FilterForm(request.GET)
    errors = None
    if not form.is_valid():
        status, errors = 400, form.errors  # refused, never dropped: an export would hold all
        form = FilterForm({})
        form.is_valid()
    f = Filters(**{**form.filters().__dict__, "under": grid.code})
    history = form.cleaned_data.get("tab") == "history"
    states = CLOSED_STATES if history else OPEN_STATES
    qs = filtered(events_in_scope(request.user, "list"), f)
    work = WorkList(
        qs.select_related("category", "assignee_unit"),
        states,
        HISTORY_ORDER if history else WORK_ORDER,
    )
    if wants_export(request) and status == 200:
        return export_response(
            request, work, f"grid-{grid.code}", grid.name, {**form.cleaned_data, "grid": grid.code}
        )
    page, rows = _page(work, form)
    context = {
        "title": grid.name,
        "grid": grid,
        "staff": staff.grid_staff(grid.code),
        "may_assign": staff.may_assign(request.user, grid.code),
        "assign": assign,
        "history": history,
        "filter_errors": errors,
        "rows": rows,
        "page": page,
        "query": _query(request, "tab"),
    }
    return render(request, "console/grid.html", context, status=status)


@login_required
@require_POST
def grid_assign(request: HttpRequest, code: str) -> HttpResponseBase:
    grid = _grid_or_404(request, code)
    if not staff.may_assign(request.user, grid.code):
        return HttpResponse(_("You may not assign workers to this grid."), status=403)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _grid_render(request, grid, form, 422)
    try:
        staff.do_assign_grid_post(
            request.user, grid.code, form.cleaned_data["username"], form.cleaned_data["role"]
        )
    except ServiceError as exc:
        errors = getattr(exc, "errors", {"username": exc.message})
        for name, message in errors.items():
            form.add_error(name if name in form.fields else None, message)
        return _grid_render(request, grid, form, exc.status)
    return redirect("console:grid", code=grid.code)


@login_required
@require_POST
def grid_unassign(request: HttpRequest, code: str, post_id: int) -> HttpResponse:
    grid = _grid_or_404(request, code)
    if not staff.may_assign(request.user, grid.code):
        return HttpResponse(_("You may not change the workers of this grid."), status=403)
    try:
        staff.do_end_grid_post(request.user, grid.code, post_id)
    except ServiceError as exc:
        return HttpResponse(exc.message, status=exc.status)
    return redirect("console:grid", code=grid.code)
