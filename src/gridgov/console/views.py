"""The console's pages. Thin: reads through events.queries (the one scope filter), data through
events.presenters (masking applied there), every change through events.services (the engine)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from gridgov.accounts.forms import ConsoleSignInForm
from gridgov.accounts.middleware import choose_post
from gridgov.core.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from gridgov.events import presenters, queries, services
from gridgov.events.attachments import do_upload
from gridgov.regions.models import Grid

from . import surfaces
from .export import export_response, wants_export
from .forms import ActionForm, FilterForm, PostForm, UnmaskForm
from .rows import work_rows

MESSAGES = {
    Conflict: gettext_lazy("This event was changed by someone else since you opened it."),
    Forbidden: gettext_lazy("You may not do this."),
    NotFound: gettext_lazy("This event does not exist or is not yours to see."),
}


REFUSAL = "gridgov_console_refusal"  # why the last action was not taken, for the next page


# ----------------------------------------------------------------------------- sign-in, home


class SignIn(auth_views.LoginView):
    template_name = "console/signin.html"
    form_class = ConsoleSignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("console:home")


class SignOut(auth_views.LogoutView):
    next_page = "signin"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Straight to one's own work: the queue for centres, the inbox for those who handle."""
    name = surfaces.landing(request.user)
    if not name:
        return render(request, "console/no_surface.html", status=403)
    return redirect(name)


@login_required
@require_POST
def switch_post(request: HttpRequest) -> HttpResponse:
    form = PostForm(request.POST)
    if not form.is_valid() or not choose_post(request, form.cleaned_data["post"]):
        return HttpResponseBadRequest(_("Not one of your posts."))
    return redirect("console:home")


# ----------------------------------------------------------------------------- work lists


def _list_context(
    request: HttpRequest, tabs: dict[str, Any], default_tab: str, url_name: str
) -> tuple[dict[str, Any], int]:
    form = FilterForm(request.GET)
    if not form.is_valid():
        return {"form": form, "tabs": [], "rows": [], "page": None, "url_name": url_name}, 400
    tab = _tab(form, tabs, default_tab)
    filters = form.filters()
    counts = queries.tab_counts(request.user, tabs, filters)
    qs = queries.work_list(request.user, tabs, tab, filters, counts[tab])
    size = form.cleaned_data.get("size") or 20
    page = Paginator(cast(Any, qs), size, allow_empty_first_page=True).get_page(
        form.cleaned_data.get("page") or 1
    )
    now = timezone.now()
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("tab", None)
    context = {
        "form": form,
        "tab": tab,
        "tabs": [(key, label, _count(key, counts[key])) for key, (label, _states) in tabs.items()],
        "rows": work_rows(page.object_list, now),
        "page": page,
        "query": query.urlencode(),
        "url_name": url_name,
        "cursor": queries.latest_change(),
    }
    return context, 200


def _tab(form: FilterForm, tabs: dict[str, Any], default_tab: str) -> str:
    tab = form.cleaned_data.get("tab") or default_tab
    return tab if tab in tabs else default_tab


def _count(tab: str, n: int) -> str:
    cap = queries.cap_of(tab)
    return f"{cap}+" if n > cap else str(n)


def _list_page(
    request: HttpRequest, tabs: dict[str, Any], default_tab: str, url_name: str, title: str
) -> HttpResponseBase:
    if wants_export(request):
        form = FilterForm(request.GET)
        if form.is_valid():
            tab = _tab(form, tabs, default_tab)
            work = queries.work_list(request.user, tabs, tab, form.filters())
            name = f"{url_name.split(':')[-1]}-{tab}"
            return export_response(request, work, name, title, form.cleaned_data)
    context, status = _list_context(request, tabs, default_tab, url_name)
    context["title"] = title
    template = "console/_list.html" if request.headers.get("HX-Request") else "console/list.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponseBase:
    if not surfaces.has_queue(request.user):
        return redirect("console:home")
    return _list_page(request, queries.QUEUE_TABS, "intake", "console:queue", _("Triage queue"))


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponseBase:
    if not surfaces.has_inbox(request.user):
        return redirect("console:home")
    return _list_page(request, queries.INBOX_TABS, "sign", "console:inbox", _("My work"))


@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """What changed since ``cursor`` in the caller's scope: the live update of every open list.
    One index lookup when nothing changed anywhere; otherwise a scoped look at the new rows.
    The page sends it with X-Gridgov-Passive: it does not count as activity, so an unattended
    console still signs out when idle (accounts.middleware.SessionLimitMiddleware)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "signed out"}, status=401)
    try:
        cursor = int(request.GET.get("cursor", ""))
    except ValueError:
        return JsonResponse({"error": "cursor must be an integer"}, status=400)
    if not 0 <= cursor <= 2**63 - 1:
        return JsonResponse({"error": "cursor out of range"}, status=400)
    latest = queries.latest_change()
    if latest <= cursor:
        return JsonResponse({"cursor": latest, "changed": 0, "urgent": []})
    found = queries.changes_since(request.user, cursor)
    urgent = [{"code": e.code, "title": e.title} for e in found.urgent]
    return JsonResponse({"cursor": latest, "changed": found.changed, "urgent": urgent})


# ----------------------------------------------------------------------------- one event


def _event_or_404(request: HttpRequest, code: str) -> Any:
    event = queries.event(request.user, code)
    if event is None:
        raise Http404()
    return event


def _event_context(
    request: HttpRequest, event: Any, forms: dict[str, ActionForm] | None = None
) -> dict[str, Any]:
    actions = services.allowed_actions(event, request.user)
    forms = forms or {}
    return {
        "e": presenters.page_detail(event, request.user),
        "actions": [
            (a, forms.get(a["action"]) or ActionForm.blank(a, event.version)) for a in actions
        ],
        "mergeable": _mergeable(actions),
        "may_unmask": services.may_unmask(event, request.user),
        "unmask_form": UnmaskForm(),
        "client_id": str(uuid.uuid4()),
    }


def _mergeable(actions: list[dict[str, Any]]) -> set[str]:
    """The duplicates this person may merge the event into now (open, visible)."""
    merge = next((a for a in actions if a["action"] == "merge"), None)
    if merge is None:
        return set()
    parent = next(i for i in merge["inputs"] if i["name"] == "parent")
    return {c["value"] for c in parent["choices"] or []}


@login_required
@require_GET
def event_page(request: HttpRequest, code: str) -> HttpResponse:
    event = _event_or_404(request, code)
    context = _event_context(request, event)
    refusal = request.session.pop(REFUSAL, None)
    if isinstance(refusal, dict) and refusal.get("code") == event.code:
        context.update(refusal=refusal.get("message"), stale=refusal.get("stale"))
    return render(request, "console/event.html", context)


@login_required
@require_POST
def act(request: HttpRequest, code: str, action: str) -> HttpResponse:
    """Take one action from the event page. A stale page (someone acted since) is told so and
    shown the event as it is now; bad input comes back beside its field."""
    event = _event_or_404(request, code)
    offered = {a["action"]: a for a in services.allowed_actions(event, request.user)}
    if action not in offered:
        key = request.POST.get(f"{action}-client_id", "")
        if services.already_applied(action, request.user, key):
            return redirect("console:event", code=event.code)  # the same form, sent twice
        if not services.is_action(action):
            raise Http404()
        posted = request.POST.get(f"{action}-expected_version", "")
        stale = posted != str(event.version)
        return _refused(request, event, Conflict("") if stale else Forbidden(""))
    form = ActionForm(offered[action], request.POST, request.FILES)
    if not form.is_valid():
        return _with_form(request, event, form, 422)
    if form.cleaned_data["expected_version"] != event.version:
        return _refused(request, event, Conflict(""))  # before any photo is stored
    inputs = form.inputs()
    try:
        inputs["attachments"] = [
            do_upload(f, f.name or "", f"{form.cleaned_data['client_id']}-{i}", request.user)[0][
                "id"
            ]
            for i, f in enumerate(form.cleaned_data.get("photos") or [])
        ]
        services.act_once(
            event.pk,
            action,
            request.user,
            inputs,
            form.cleaned_data["client_id"],
            answer=lambda e: {"code": e.code, "state": e.state},
        )
    except Invalid as exc:
        for name, message in exc.errors.items():
            form.add_error(name if name in form.fields else None, message)
        return _with_form(request, event, form, 422)
    except ServiceError as exc:
        return _refused(request, event, exc)
    return redirect("console:event", code=event.code)


def _with_form(request: HttpRequest, event: Any, form: ActionForm, status: int) -> HttpResponse:
    context = _event_context(request, event, {form.action["action"]: form})
    context["open_action"] = form.action["action"]
    return render(request, "console/event.html", context, status=status)


def _refused(request: HttpRequest, event: Any, exc: ServiceError) -> HttpResponse:
    """Back to the event as it is now, told why nothing was done (post/redirect/get: a reload
    does not send the refused form again)."""
    request.session[REFUSAL] = {
        "code": event.code,
        "message": str(MESSAGES.get(type(exc), exc.message)),
        "stale": isinstance(exc, Conflict),
    }
    return redirect("console:event", code=event.code)


@login_required
@require_POST
def unmask(request: HttpRequest, code: str) -> HttpResponse:
    event = _event_or_404(request, code)
    if not services.may_unmask(event, request.user):
        return HttpResponse(_("You may not see who reported this event."), status=403)
    form = UnmaskForm(request.POST)
    shown = None
    status = 200
    if form.is_valid():
        try:
            shown = services.do_unmask_reporter(event.pk, request.user, form.cleaned_data["reason"])
        except Invalid as exc:
            form.add_error("reason", "; ".join(exc.errors.values()))
            status = 422
        except Forbidden:
            return HttpResponse(_("You may not see who reported this event."), status=403)
    else:
        status = 422
    context: dict[str, Any] = {"e": presenters.page_detail(event, request.user), "shown": shown}
    context.update(unmask_form=form, may_unmask=True)
    return render(request, "console/_reporter.html", context, status=status)


@login_required
@require_GET
def sheet(request: HttpRequest, code: str) -> HttpResponse:
    """The printable dispatch sheet (派遣单)."""
    event = _event_or_404(request, code)
    context = {"e": presenters.page_detail(event, request.user), "printed_at": timezone.now()}
    return render(request, "console/sheet.html", context)


@login_required
@require_GET
def event_map(request: HttpRequest, code: str) -> JsonResponse:
    """The event's point and its grid's boundary (GeoJSON), for the page's small map."""
    event = _event_or_404(request, code)
    grid = Grid.objects.filter(code=event.grid_code, effective_to=None).first()
    return JsonResponse(
        {
            "point": [event.lon, event.lat],
            "grid": {"code": grid.code, "name": grid.name, "boundary": grid.boundary}
            if grid
            else None,
        }
    )


@login_required
@require_GET
def attachment_file(request: HttpRequest, pk: uuid.UUID) -> FileResponse:
    """A photo or recording, for those who may see its event (or uploaded it)."""
    att = queries.attachment(request.user, pk)
    if att is None:
        raise Http404()
    response = FileResponse(att.file.open("rb"), content_type=att.content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response
