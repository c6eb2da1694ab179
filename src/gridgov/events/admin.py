from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.scope import can
from gridgov.core.admin_base import CityDataAdmin, ReadOnlyScopedAdmin

from . import presenters
from .models import Category, Event, IntakeConfig, TimeLimit


class ReferenceAdmin(CityDataAdmin):
    """Deleting a category or limit would orphan events' history: deactivate instead."""

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class TimeLimitInline(admin.TabularInline):
    model = TimeLimit
    extra = 0

    def has_view_permission(self, request: object, obj: object = None) -> bool:
        return can(getattr(request, "user", None), "grid", "change")

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission
    has_delete_permission = has_view_permission


@admin.register(Category)
class CategoryAdmin(ReferenceAdmin):
    list_display = (
        "code",
        "name",
        "handler_kind",
        "function",
        "public",
        "sensitive",
        "active",
    )
    list_filter = ("handler_kind", "public", "sensitive", "active")
    search_fields = ("code", "name", "function__name")
    inlines = [TimeLimitInline]


@admin.register(TimeLimit)
class TimeLimitAdmin(ReferenceAdmin):
    list_display = ("category", "step", "urgency", "area_type", "amount", "unit", "warn_at_share")
    list_filter = ("step", "urgency", "area_type", "unit")


@admin.register(IntakeConfig)
class IntakeConfigAdmin(ReferenceAdmin):
    list_display = ("county", "urgent_to_county")


@admin.register(Event)
class EventAdmin(ReadOnlyScopedAdmin):
    """Read-only: events change only through the workflow actions."""

    resource = "event"
    list_display = ("code", "title", "state", "grid_code", "urgency", "supervision", "due_at")
    list_filter = ("state", "urgency", "supervision", "channel")
    search_fields = ("code", "title")
    show_full_result_count = False
    # Personal data appears only as the presenters mask it (the same rule as the API).
    exclude = (
        "reporter_name",
        "reporter_phone",
        "reporter_openid",
        "reporter_phone_index",
        "reporter_openid_index",
        "reporter_secret_hash",
        "request_hash",
        "client_id",
    )
    readonly_fields = ("reporter",)

    @admin.display(description=_("reporter"))
    def reporter(self, obj: Event) -> str:
        return presenters.reporter_masked(obj)
