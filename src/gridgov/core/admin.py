from typing import Any

from django.contrib import admin

from . import workcal
from .admin_base import CityDataAdmin, ReadOnlyScopedAdmin
from .models import AuditLog, CalendarDay, WorkSchedule


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyScopedAdmin):
    """Read-only for the audit administrator; nobody can add, change or delete rows."""

    resource = "audit"
    list_display = (
        "seq",
        "at",
        "actor_name",
        "action",
        "object_type",
        "object_id",
        "source_ip",
        "outcome",
    )
    list_filter = ("outcome", "action")
    search_fields = ("actor_name", "action", "object_id")
    show_full_result_count = False


class CalendarAdmin(CityDataAdmin):
    """Edits mark the day as the administrator's and refresh this process's calendar."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        if isinstance(obj, CalendarDay) and not obj.source.startswith("admin"):
            obj.source = "admin"  # a later sync from the package never overwrites it
        super().save_model(request, obj, form, change)
        workcal.invalidate()


@admin.register(CalendarDay)
class CalendarDayAdmin(CalendarAdmin):
    list_display = ("date", "kind", "name", "source")
    list_filter = ("kind", "source")
    date_hierarchy = "date"


@admin.register(WorkSchedule)
class WorkScheduleAdmin(CalendarAdmin):
    list_display = ("__str__",)
