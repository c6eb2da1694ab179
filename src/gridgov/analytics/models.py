"""Daily statistics (日报): what came in and what was closed, per day, township, top category
and channel. Written only by analytics.rollups from the events table; the wall and later the
indicators read these few thousand rows instead of a million events."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyStat(models.Model):
    day = models.DateField(_("day"))  # in Asia/Shanghai
    township = models.CharField(_("township"), max_length=9)
    category = models.CharField(_("top category"), max_length=2, blank=True)
    channel = models.CharField(_("channel"), max_length=8)
    reported = models.PositiveIntegerField(_("reported"), default=0)
    closed = models.PositiveIntegerField(_("closed"), default=0)
    closed_on_time = models.PositiveIntegerField(_("closed on time"), default=0)

    class Meta:
        verbose_name = _("daily statistic")
        verbose_name_plural = _("daily statistics")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "township", "category", "channel"], name="daily_stat_unique"
            )
        ]
        indexes = [models.Index(fields=["township", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.township} {self.category} {self.channel}"
