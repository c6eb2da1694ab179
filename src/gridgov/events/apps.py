from django.apps import AppConfig
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "gridgov.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self) -> None:
        from gridgov.accounts import scope

        from . import signals, sla  # noqa: F401  (grid redraw hook, ticker jobs)
        from .models import Event

        scope.register(Event, "event", "grid_code", 15)
        # A department handler sees the events dispatched to their own unit only.
        scope.narrow("event", "dept_handler", lambda post: Q(assignee_unit_id=post.org_unit_id))
