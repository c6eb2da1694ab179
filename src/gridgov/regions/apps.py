from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "gridgov.regions"
    label = "regions"
    verbose_name = _("Regions and grids")

    def ready(self) -> None:
        from gridgov.core import scope

        from .models import Grid, Region

        scope.register(Region, "region", "code", 12)
        scope.register(Grid, "grid", "code", 15)
