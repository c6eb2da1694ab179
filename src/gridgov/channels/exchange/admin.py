"""A parent's view of its children in the admin: read-only (keys are issued by the command)."""

from __future__ import annotations

from django.contrib import admin

from gridgov.core.admin_base import ReadOnlyScopedAdmin

from .models import Node, ReceivedItem


@admin.register(Node)
class NodeAdmin(ReadOnlyScopedAdmin):
    resource = "orgunit"
    list_display = ("code", "name", "active", "created_at", "revoked_at", "last_contact_at")
    exclude = ("secret",)


@admin.register(ReceivedItem)
class ReceivedItemAdmin(ReadOnlyScopedAdmin):
    resource = "orgunit"
    list_display = ("node", "seq", "kind", "at", "received_at")
    list_filter = ("kind", "node")
    search_fields = ("=item_id",)
    show_full_result_count = False
