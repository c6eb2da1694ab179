from django.contrib import admin

from gridgov.core.admin_base import ScopedAdmin

from .models import OrgUnit


@admin.register(OrgUnit)
class OrgUnitAdmin(ScopedAdmin):
    resource = "orgunit"
    list_display = ("code", "name", "kind", "level", "region", "active")
    list_filter = ("kind", "level", "active")
    search_fields = ("code", "name")
    raw_id_fields = ("region", "parent")
