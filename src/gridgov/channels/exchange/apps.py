from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "gridgov.channels.exchange"
    label = "exchange"
    verbose_name = _("Upper-level exchange")

    def ready(self) -> None:
        from gridgov.core import outbox, scope
        from gridgov.core.models import Outbox

        from . import hooks, sender  # noqa: F401  (the change hook, the ticker's jobs)
        from .models import Node, ReceivedItem

        outbox.BATCHED.add(Outbox.Channel.EXCHANGE)  # sent in batches by sender.py
        # A parent's staff read the children under their scope (a node's code is its region's).
        scope.register(Node, "orgunit", "code", 32)
        scope.register(ReceivedItem, "orgunit", "node__code", 32)
