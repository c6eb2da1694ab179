from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "gridgov.channels.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from . import adapters  # noqa: F401  (the outbox's in-app, email and SMS adapters)
