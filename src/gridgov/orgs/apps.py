from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "gridgov.orgs"
    label = "orgs"
    verbose_name = _("Centres and departments")
