from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from gridgov.core.admin_base import ScopedAdmin
from gridgov.core.scope import covers

from .models import Checkpoint
from .services import grid_at


class CheckpointForm(forms.ModelForm):
    """The grid is found from the point, never typed: a point outside every grid, or outside
    the administrator's area, is refused on the form."""

    user: Any = None

    class Meta:
        model = Checkpoint
        fields = ["name", "kind", "lon", "lat", "radius_m", "active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lon, lat = data.get("lon"), data.get("lat")
        if lon is None or lat is None:
            return data
        code = grid_at(lon, lat)
        if code is None:
            self.add_error("lon", _("This point lies in no grid (WGS-84 longitude, latitude)."))
        elif not covers(self.user, "checkpoint", "change", code):
            self.add_error("lon", _("This point lies outside your area."))
        else:
            self.instance.grid_code = code
        return data


@admin.register(Checkpoint)
class CheckpointAdmin(ScopedAdmin):
    resource = "checkpoint"
    form = CheckpointForm
    list_display = ("name", "kind", "grid_code", "radius_m", "active", "synthetic")
    list_filter = ("kind", "active", "synthetic")
    search_fields = ("name", "grid_code")
    readonly_fields = ("grid_code", "synthetic", "created_at")
    show_full_result_count = False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # check-ins keep their place: deactivate instead
