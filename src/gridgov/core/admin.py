from django.contrib import admin

from .admin_base import ScopedAdmin
from .models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(ScopedAdmin):
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

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
