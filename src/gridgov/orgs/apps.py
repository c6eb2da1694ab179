from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "gridgov.orgs"
    label = "orgs"
    verbose_name = _("Centres and departments")

    def ready(self) -> None:
        from gridgov.core import scope

        from .models import OrgUnit

        scope.register(OrgUnit, "orgunit", "region_id", 12)
