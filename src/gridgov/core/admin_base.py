"""Admin base: every admin list and form goes through the scope filter and the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from . import audit
from .scope import can, restrict


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change and delete in the admin writes an audit row in the same transaction."""

    # Django admin wraps saves in a transaction, so these rows commit with the change.
    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        audit.record("admin.add", actor=request.user, obj=obj, detail={"message": message})
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        audit.record("admin.change", actor=request.user, obj=obj, detail={"message": message})
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            audit.record("admin.delete", actor=request.user, obj=obj, detail={"repr": str(obj)})
        return super().log_deletions(request, queryset)


class ScopedAdmin(AuditedAdmin):
    """Permissions come from the user's posts (roles.PERMISSIONS), not Django's model perms."""

    resource: str = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return restrict(super().get_queryset(request), request.user, "list")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, self.resource, "list")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can(request.user, self.resource, "view")

    def _may_change(self, request: HttpRequest, obj: Model | None) -> bool:
        if not can(request.user, self.resource, "change"):
            return False
        if obj is None:
            return True
        qs = restrict(type(obj)._default_manager.all(), request.user, "change")
        return qs.filter(pk=obj.pk).exists()

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may_change(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_change(request, None)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may_change(request, obj)


class ReadOnlyScopedAdmin(ScopedAdmin):
    """Scoped lists and details of records that change only through their services."""

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ScopedInline(admin.TabularInline):
    """Inline rows follow the same post-based permissions as ScopedAdmin."""

    resource: str = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return restrict(super().get_queryset(request), request.user, "list")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can(request.user, self.resource, "view")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can(request.user, self.resource, "change")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can(request.user, self.resource, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can(request.user, self.resource, "change")


class CityDataAdmin(AuditedAdmin):
    """City-wide reference data (taxonomy, limits, calendar, office hours): the system
    administrator keeps it; nobody else sees it in the admin."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "grid", "change")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)
