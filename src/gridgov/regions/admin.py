from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.core.admin_base import ScopedAdmin

from .models import Grid, GridRevision, Region


@admin.register(Region)
class RegionAdmin(ScopedAdmin):
    resource = "region"
    list_display = ("code", "name", "level", "area_type", "boundary_synthetic")
    list_filter = ("level", "area_type", "boundary_synthetic")
    search_fields = ("code", "name")
    readonly_fields = (
        "code",
        "level",
        "parent",
        "boundary",
        "boundary_synthetic",
        "boundary_source",
    )
    list_select_related = ("parent",)
    show_full_result_count = False


@admin.register(Grid)
class GridAdmin(ScopedAdmin):
    """Names and figures are editable; shapes change only by import, so history is kept."""

    resource = "grid"
    list_display = (
        "code",
        "name",
        "kind",
        "dedicated_type",
        "population",
        "households",
        "synthetic_label",
        "effective_to",
    )
    list_filter = ("kind", "dedicated_type", "synthetic")
    search_fields = ("code", "name")
    readonly_fields = (
        "code",
        "kind",
        "dedicated_type",
        "village",
        "boundary",
        "min_lon",
        "min_lat",
        "max_lon",
        "max_lat",
        "synthetic",
        "revision",
        "effective_from",
        "effective_to",
    )
    show_full_result_count = False

    @admin.display(description=_("synthetic"), boolean=False)
    def synthetic_label(self, obj: Grid) -> str:
        return str(_("synthetic (demo)")) if obj.synthetic else ""

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(GridRevision)
class GridRevisionAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "created_by", "source", "grid_count")

    def has_module_permission(self, request: object) -> bool:
        from gridgov.core.scope import can

        return can(getattr(request, "user", None), "grid", "change")

    def has_view_permission(self, request: object, obj: object = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
