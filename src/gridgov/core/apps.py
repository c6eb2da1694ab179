from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gridgov.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from . import scope, signals  # noqa: F401  (signals: connects login auditing)
        from .models import AuditLog

        scope.register(AuditLog, "audit", None, 0)
