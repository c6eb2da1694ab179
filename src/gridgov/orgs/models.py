"""Governance centres (综治中心) and departments (职能部门): the units that hold posts."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.regions.models import Region


class Function(models.Model):
    """What a department does (职能), shared by the city bureau and its county branches
    ("城市管理局"). Categories send their work to a function; routing picks the unit of that
    function most local to the event."""

    name = models.CharField(_("name"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("department function")
        verbose_name_plural = _("department functions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrgUnit(models.Model):
    class Kind(models.TextChoices):
        CENTRE = "centre", _("governance centre")
        DEPARTMENT = "department", _("department")

    class Level(models.TextChoices):
        TOWNSHIP = "township", _("township/street")
        COUNTY = "county", _("county/district")
        CITY = "city", _("city")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    # The jurisdiction: the region whose code prefix this unit serves.
    region = models.ForeignKey(
        Region, verbose_name=_("jurisdiction"), on_delete=models.PROTECT, related_name="org_units"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    function = models.ForeignKey(
        Function,
        verbose_name=_("function"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
        help_text=_("For a department: what it does (its city bureau and branches share it)."),
    )
    phone = models.CharField(_("duty phone"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("centre or department")
        verbose_name_plural = _("centres and departments")
        ordering = ["kind", "region_id", "code"]
        indexes = [models.Index(fields=["region", "kind"])]

    def __str__(self) -> str:
        return self.name
