"""The console's forms: a work list's filters, and an action's form built from the inputs the
rule table gives it (so a page offers exactly what the engine takes)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from gridgov.core.lru import LRU
from gridgov.core.text import has_control, visible
from gridgov.events.models import Event
from gridgov.events.queries import Filters

PAGE_SIZES = (20, 50, 100)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_PAGE = 10_000
HIDDEN_FILTERS = ("tab", "page")  # asked in the address, not shown as fields
KEPT_VALUES_MAX = 400  # longer filter values render afresh: the kept fragments stay small


def clean_text(value: str) -> None:
    """A validator: refuse control characters, zero-width spaces and direction overrides."""
    if has_control(value):
        raise ValidationError(_("Remove control characters, zero-width spaces or direction marks."))


class FilterForm(forms.Form):
    """The filters above a work list; every field optional, anything odd refused with a message."""

    tab = forms.CharField(required=False, max_length=16)
    category = forms.CharField(
        label=_("category"),
        required=False,
        max_length=4,
        validators=[RegexValidator(r"^[0-9]{2}([0-9]{2})?$", _("2 or 4 digits"))],
    )
    channel = forms.ChoiceField(
        label=_("channel"), required=False, choices=[("", "—"), *Event.Channel.choices]
    )
    under = forms.CharField(
        label=_("region or grid"),
        required=False,
        max_length=15,
        validators=[
            RegexValidator(
                r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15})$", _("a code")
            )
        ],
    )
    urgency = forms.ChoiceField(
        label=_("urgency"), required=False, choices=[("", "—"), *Event.Urgency.choices]
    )
    overdue = forms.BooleanField(label=_("overdue"), required=False)
    supervised = forms.BooleanField(label=_("supervised"), required=False)
    since = forms.DateField(label=_("reported from"), required=False)
    until = forms.DateField(label=_("reported until"), required=False)
    q = forms.CharField(label=_("search"), required=False, max_length=50)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    size = forms.TypedChoiceField(
        label=_("per page"),
        required=False,
        coerce=int,
        choices=[(n, n) for n in PAGE_SIZES],
        empty_value=20,  # type: ignore[arg-type]
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("since", "until"):
            day = data.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, _("A date between 2000 and 2099."))
        return data

    def clean_q(self) -> str:
        q: str = self.cleaned_data["q"].strip()
        clean_text(q)
        return q

    def filters(self) -> Filters:
        d = self.cleaned_data
        return Filters(
            category=d.get("category") or "",
            channel=d.get("channel") or "",
            under=d.get("under") or "",
            urgency=d.get("urgency") or "",
            overdue=bool(d.get("overdue")),
            supervised=bool(d.get("supervised")),
            since=d.get("since"),
            until=d.get("until"),
            q=d.get("q") or "",
        )

    def shown_fields(self) -> str:
        """The filter fields as a list shows them (tab and page aside). Their HTML depends only
        on the values asked and the language, and every list page shows them: a valid form's
        is rendered once per values and language and kept."""
        template = "console/_filter_fields.html"
        if self.errors:
            return _render(template, self)
        getlist = getattr(self.data, "getlist", None)
        values = tuple(
            (name, tuple(getlist(name)) if getlist else (self.data.get(name),))
            for name in self.fields
            if name not in HIDDEN_FILTERS
        )
        if len(repr(values)) > KEPT_VALUES_MAX:  # odd input (padding, repeats): not kept
            return _render(template, self)
        return _kept_render(template, self, values)


_fragments = LRU(1024)


def _render(template: str, form: forms.Form) -> str:
    html = render_to_string(template, {"form": form})
    return mark_safe(html)  # noqa: S308 - rendered by our template, values escaped there


def _kept_render(template: str, form: forms.Form, key: Any) -> str:
    """``template`` rendered for ``form``, kept per ``key`` (all the rendering reads besides
    the template and the language)."""
    return str(_fragments.get((template, get_language(), key), lambda: _render(template, form)))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to nine photos; each is checked, re-encoded and stripped by the upload service."""

    widget = MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"})

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > 9:
            raise ValidationError(_("At most 9 photos."))
        return [super(PhotosField, self).clean(f, initial) for f in files]


def _field(spec: dict[str, Any]) -> forms.Field:
    label, required = spec["label"], spec["required"]
    if spec["kind"] == "choice":
        options = [(c["value"], c["label"]) for c in spec["choices"] or []]
        return forms.ChoiceField(
            label=label, required=required, choices=[("", "—"), *options] if options else []
        )
    if spec["kind"] == "decimal":
        return forms.DecimalField(
            label=label, required=required, min_value=0.01, max_value=1000, decimal_places=2
        )
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[clean_text],
    )


# Actions that report work done carry photos (the "after" pictures).
WITH_PHOTOS = frozenset({"report_result", "verify_fail"})


class ActionForm(forms.Form):
    """One allowed action as a form: its inputs from the rule table, the version the page
    showed (a stale page is refused, never silently applied) and a key that makes a double
    submit apply once."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31)
    client_id = forms.CharField(widget=forms.HiddenInput, min_length=8, max_length=80)

    def __init__(self, action: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        self.prefix = action["action"]
        for spec in action["inputs"]:
            self.fields[spec["name"]] = _field(spec)
        if action["action"] in WITH_PHOTOS:
            self.fields["photos"] = PhotosField(label=_("photos"), required=False)

    @classmethod
    def blank(cls, action: dict[str, Any], version: int) -> ActionForm:
        initial = {"expected_version": version, "client_id": str(uuid.uuid4())}
        return cls(action, initial=initial)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for spec in self.action["inputs"]:
            value = data.get(spec["name"])
            if spec["required"] and isinstance(value, str) and not visible(value):
                self.add_error(spec["name"], _("This field is required."))
        return data

    def shown_fields(self) -> str:
        """The action's visible fields. A blank form's depend only on the action's inputs (as
        the rule table offers them here: labels, choices) and the language, and an event page
        shows several: rendered once per inputs and language and kept. The hidden fields (the
        page's version, a fresh key) are rendered apart, each time."""
        template = "console/_action_fields.html"
        if self.is_bound:
            return _render(template, self)
        spec = json.dumps(self.action["inputs"], sort_keys=True, default=str)
        return _kept_render(template, self, (self.prefix, spec, "photos" in self.fields))

    def inputs(self) -> dict[str, Any]:
        """What the engine takes: the action's inputs, without empty ones."""
        d = self.cleaned_data
        found = {s["name"]: d.get(s["name"]) for s in self.action["inputs"]}
        found = {k: v for k, v in found.items() if v not in (None, "")}
        return {**found, "expected_version": d["expected_version"]}


class UnmaskForm(forms.Form):
    reason = forms.CharField(
        label=_("why you need to see who reported"),
        min_length=2,
        max_length=200,
        validators=[clean_text],
    )


class PostForm(forms.Form):
    post = forms.IntegerField(required=False, min_value=1)


class MapForm(FilterForm):
    """The map's filters: a work list's, and which events (open by default)."""

    show = forms.ChoiceField(
        label=_("events"),
        required=False,
        choices=[("open", _("open")), ("closed", _("closed")), ("all", _("all"))],
    )


class BBoxForm(forms.Form):
    """Which grids a map wants: those meeting a view's bounds (west, south, east, north in
    WGS-84 degrees), or up to a page of grid codes."""

    bbox = forms.CharField(max_length=100, required=False)
    codes = forms.CharField(max_length=16 * 100, required=False)

    def clean_codes(self) -> list[str]:
        raw = self.cleaned_data["codes"]
        codes = [c for c in raw.split(",") if c] if raw else []
        if len(codes) > 100 or any(
            not (len(c) == 15 and c.isascii() and c.isdigit()) for c in codes
        ):
            raise ValidationError(_("Up to 100 grid codes of 15 digits, separated by commas."))
        return codes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("bbox") and not data.get("codes") and not self.errors:
            raise ValidationError(_("Give the map's bounds or grid codes."))
        return data

    def clean_bbox(self) -> tuple[float, float, float, float] | None:
        if not self.cleaned_data["bbox"]:
            return None
        try:
            w, s, e, n = (float(v) for v in self.cleaned_data["bbox"].split(","))
        except ValueError:
            raise ValidationError(_("Four numbers: west, south, east, north.")) from None
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise ValidationError(_("West below east, south below north, in degrees."))
        return w, s, e, n


class GridSearchForm(forms.Form):
    q = forms.CharField(label=_("grid code or name"), required=False, max_length=50)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def clean_q(self) -> str:
        q: str = self.cleaned_data["q"].strip()
        clean_text(q)
        return q


class AssignForm(forms.Form):
    username = forms.CharField(label=_("account"), max_length=150, validators=[clean_text])
    role = forms.ChoiceField(
        label=_("as"),
        choices=[("grid_worker", _("grid worker")), ("grid_leader", _("grid leader"))],
    )


class PatrolDayForm(forms.Form):
    """The patrol page's day (today by default) and page."""

    day = forms.DateField(label=_("day"), required=False, widget=forms.DateInput({"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def clean_day(self) -> date | None:
        day: date | None = self.cleaned_data.get("day")
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(_("A date between 2000 and 2099."))
        return day
