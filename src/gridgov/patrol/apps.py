"""Patrols: a grid worker's rounds — track, check-ins at set places — and who patrolled where."""

from django.apps import AppConfig
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PatrolConfig(AppConfig):
    name = "gridgov.patrol"
    label = "patrol"
    verbose_name = _("Patrols")

    def ready(self) -> None:
        from gridgov.accounts import scope

        from .models import Checkpoint, Patrol, PatrolGrid

        # A patrol is seen by the range of its grid; the grids it touched by their own codes.
        scope.register(Patrol, "patrol", "grid_code", 15)
        scope.register(PatrolGrid, "patrol", "grid_code", 15)
        scope.register(Checkpoint, "checkpoint", "grid_code", 15)
        # A grid worker sees their own patrols, not their colleagues' tracks.
        scope.narrow("patrol", "grid_worker", lambda post: Q(worker_id=post.user_id))
