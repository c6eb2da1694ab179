"""Patrols (巡查): a grid worker's rounds — the track the phone sends, check-ins at set places
(checkpoints: school gates, markets …) — and which grids each patrol touched, per day.

Ids of patrols and check-ins are chosen by the phone (it creates them offline), so every send
is idempotent. Codes are denormalised for the scope filter: a patrol is seen by the range of
its grid, as events are.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

GRID_CODE = RegexValidator(r"^\d{15}$")


class Checkpoint(models.Model):
    """A place grid workers check in at on their rounds; located in the grid it lies in."""

    class Kind(models.TextChoices):
        SCHOOL_GATE = "school_gate", _("school gate")
        MARKET = "market", _("market")
        HOSPITAL = "hospital", _("hospital")
        PARK = "park", _("park")
        STATION = "station", _("station")
        RIVER = "river", _("river or pond")
        SITE = "site", _("construction site")
        OTHER = "other", _("other")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.OTHER)
    grid_code = models.CharField(
        _("grid"),
        max_length=15,
        validators=[GRID_CODE],
        help_text=_("Found from the point when saved."),
    )
    lon = models.FloatField(
        _("longitude (WGS-84)"), validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    lat = models.FloatField(
        _("latitude (WGS-84)"), validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    radius_m = models.PositiveIntegerField(
        _("radius (m)"),
        default=100,
        validators=[MinValueValidator(10), MaxValueValidator(2000)],
        help_text=_("A check-in this close (plus the phone's stated accuracy) counts as there."),
    )
    active = models.BooleanField(_("active"), default=True)
    synthetic = models.BooleanField(
        _("synthetic"), default=False, help_text=_("Generated for the demo city; not real.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ["grid_code", "name"]
        indexes = [models.Index(fields=["grid_code", "active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.grid_code})"


class Patrol(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("on patrol")
        ENDED = "ended", _("ended")

    id = models.UUIDField(primary_key=True)  # chosen by the phone
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("worker"),
        on_delete=models.PROTECT,
        related_name="patrols",
    )
    grid_code = models.CharField(_("grid"), max_length=15, validators=[GRID_CODE])
    started_at = models.DateTimeField(_("started at"))  # the phone's clock
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"))  # the server's clock
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.ACTIVE)
    point_count = models.PositiveIntegerField(_("track points"), default=0)
    distance_m = models.FloatField(_("distance (m)"), default=0)

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["grid_code", "started_at"]),
            models.Index(fields=["worker", "started_at"]),
            models.Index(fields=["started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} {self.grid_code} {self.started_at:%Y-%m-%d %H:%M}"


class PatrolPoint(models.Model):
    """One point of a patrol's track; one per moment (a resent point is not stored twice)."""

    # Indexed by the unique (patrol, at) below.
    patrol = models.ForeignKey(
        Patrol, on_delete=models.CASCADE, related_name="points", db_index=False
    )
    at = models.DateTimeField()
    lon = models.FloatField()
    lat = models.FloatField()
    accuracy_m = models.FloatField(null=True, blank=True)
    grid_code = models.CharField(max_length=15, blank=True)  # "" outside every grid

    class Meta:
        verbose_name = _("track point")
        verbose_name_plural = _("track points")
        constraints = [
            models.UniqueConstraint(fields=["patrol", "at"], name="patrol_point_once_per_moment")
        ]

    def __str__(self) -> str:
        return f"{self.patrol_id} {self.at:%H:%M:%S}"


class PatrolGrid(models.Model):
    """A grid a patrol passed through on a (local) day: "which grids went unpatrolled" is the
    grids of an area without a row here. The worker is kept so the scope can narrow to it."""

    patrol = models.ForeignKey(
        Patrol, on_delete=models.CASCADE, related_name="grids", db_index=False
    )
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    grid_code = models.CharField(max_length=15)
    day = models.DateField()  # in Asia/Shanghai

    class Meta:
        verbose_name = _("patrolled grid")
        verbose_name_plural = _("patrolled grids")
        constraints = [
            models.UniqueConstraint(
                fields=["patrol", "grid_code", "day"], name="patrol_grid_once_per_day"
            )
        ]
        indexes = [models.Index(fields=["day", "grid_code"])]

    def __str__(self) -> str:
        return f"{self.day} {self.grid_code}"


class CheckIn(models.Model):
    """A check-in at a checkpoint during a patrol, with how far from it the phone was."""

    id = models.UUIDField(primary_key=True)  # chosen by the phone
    patrol = models.ForeignKey(
        Patrol, on_delete=models.CASCADE, related_name="checkins", db_index=False
    )
    checkpoint = models.ForeignKey(
        Checkpoint, verbose_name=_("checkpoint"), on_delete=models.PROTECT, related_name="checkins"
    )
    at = models.DateTimeField(_("at"))
    lon = models.FloatField()
    lat = models.FloatField()
    accuracy_m = models.FloatField(null=True, blank=True)
    distance_m = models.FloatField(_("distance (m)"))
    within = models.BooleanField(_("at the place"))
    note = models.TextField(_("note"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["at"]
        indexes = [models.Index(fields=["patrol", "at"])]

    def __str__(self) -> str:
        return f"{self.checkpoint_id} {self.at:%Y-%m-%d %H:%M}"
