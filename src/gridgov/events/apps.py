from django.apps import AppConfig
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "gridgov.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self) -> None:
        from gridgov.accounts import scope

        from . import alarms, signals  # noqa: F401  (ticker jobs, grid redraw hook)
        from .models import Event, Urge

        # An event is seen where it lies and, once dispatched to a grid, by that grid too.
        scope.register(Event, "event", "grid_code", 15, also=("assignee_grid",))
        # Urges are read like their events (the board counts them per department).
        scope.register(Urge, "event", "grid_code", 15, also=("assignee_grid",))
        from gridgov.core import rotation
        from gridgov.core.personal import normalize_phone

        rotation.BLIND_INDEXES += [
            ("events.event", "reporter_phone_index", "reporter_phone", "phone", normalize_phone),
            ("events.event", "reporter_openid_index", "reporter_openid", "openid", str.strip),
        ]
        # A department handler sees the events dispatched to their own unit only.
        scope.narrow("event", "dept_handler", lambda post: Q(assignee_unit_id=post.org_unit_id))
