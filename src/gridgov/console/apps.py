from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The operator console and the handlers' inbox: server-rendered pages on the engine."""

    name = "gridgov.console"
    verbose_name = _("console")
