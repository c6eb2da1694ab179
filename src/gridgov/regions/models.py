"""Administrative divisions (行政区划) and grids (网格).

Region codes are stored in their significant length (province 2, city 4, county 6, township 9,
village 12 digits) so that a code prefix is a subtree and scoping is a string range. Grid codes
are the village's 12 digits plus a 3-digit serial, so the same range covers grids too.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

CODE_LENGTHS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}
GRID_CODE_LENGTH = 15


class Region(models.Model):
    class Level(models.IntegerChoices):
        PROVINCE = 1, _("province")
        CITY = 2, _("city")
        COUNTY = 3, _("county")
        TOWNSHIP = 4, _("township")
        VILLAGE = 5, _("village/community")

    class AreaType(models.TextChoices):
        URBAN = "urban", _("urban")
        FRINGE = "fringe", _("urban-rural fringe")
        RURAL = "rural", _("rural")

    code = models.CharField(
        _("division code"),
        max_length=12,
        primary_key=True,
        validators=[RegexValidator(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")],
    )
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    area_type = models.CharField(
        _("area type"), max_length=8, choices=AreaType.choices, default=AreaType.URBAN
    )
    boundary = models.JSONField(_("boundary (GeoJSON, WGS-84)"), null=True, blank=True)
    boundary_synthetic = models.BooleanField(
        _("synthetic boundary"),
        default=False,
        help_text=_("Generated for the demo city; not an official boundary."),
    )
    boundary_source = models.CharField(_("boundary source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def full_code(self) -> str:
        """The 12-digit statistical code (zero-padded)."""
        return self.code.ljust(12, "0")


class GridRevision(models.Model):
    """One drawing of the grids: a demo generation or an import. Grids keep their history."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    source = models.CharField(_("source"), max_length=255)
    note = models.TextField(_("note"), blank=True)
    grid_count = models.PositiveIntegerField(_("grids"), default=0)

    class Meta:
        verbose_name = _("grid revision")
        verbose_name_plural = _("grid revisions")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source}"


class Grid(models.Model):
    class Kind(models.TextChoices):
        BASE = "base", _("base grid")
        DEDICATED = "dedicated", _("dedicated grid")

    class DedicatedType(models.TextChoices):
        NONE = "", _("none")
        SCHOOL = "school", _("school")
        HOSPITAL = "hospital", _("hospital")
        MARKET = "market", _("market")
        PARK = "park", _("park")
        BUILDING = "building", _("large building")
        ENTERPRISE = "enterprise", _("enterprise")

    code = models.CharField(_("grid code"), max_length=15, validators=[RegexValidator(r"^\d{15}$")])
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.BASE)
    dedicated_type = models.CharField(
        _("dedicated type"), max_length=12, choices=DedicatedType.choices, blank=True, default=""
    )
    village = models.ForeignKey(
        Region,
        verbose_name=_("village/community"),
        on_delete=models.PROTECT,
        related_name="grids",
        limit_choices_to={"level": Region.Level.VILLAGE},
    )
    boundary = models.JSONField(_("boundary (GeoJSON, WGS-84)"))
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    population = models.PositiveIntegerField(_("population"), default=0)
    households = models.PositiveIntegerField(_("households"), default=0)
    synthetic = models.BooleanField(
        _("synthetic"), default=False, help_text=_("Generated for the demo city; not real.")
    )
    revision = models.ForeignKey(
        GridRevision, verbose_name=_("revision"), on_delete=models.PROTECT, related_name="grids"
    )
    effective_from = models.DateTimeField(_("effective from"))
    effective_to = models.DateTimeField(_("effective to"), null=True, blank=True)

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(effective_to__isnull=True),
                name="grid_code_unique_when_current",
            ),
        ]
        indexes = [
            models.Index(fields=["code", "effective_to"]),
            models.Index(fields=["effective_to", "code"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
