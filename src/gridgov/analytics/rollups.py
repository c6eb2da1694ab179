"""Keeps analytics.DailyStat true: a finished day's figures are recomputed from the events
table (the source of truth) and replaced when they differ. Today is never rolled up: the wall
counts it live, so it is exact to the second. The ticker refreshes the last two finished days
(late reclassifications still reach them); `gridgov stats --rebuild` recomputes history."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.utils import timezone

from gridgov.core.ticker import job
from gridgov.events.models import Event

from .models import DailyStat

Key = tuple[str, str, str]  # township, top category, channel
Figures = dict[Key, list[int]]  # reported, closed, closed on time


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def compute(day: date) -> Figures:
    """One day's figures from the events table: reports by the day they came in, closures by
    the day they were closed (both read through their own index)."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    figures: Figures = defaultdict(lambda: [0, 0, 0])
    reported = (
        Event.objects.filter(reported_at__gte=start, reported_at__lt=end)
        .annotate(township=Substr("grid_code", 1, 9))
        .values("township", "category__code", "channel")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for r in reported:
        figures[_key(r)][0] += r["n"]
    closed = (
        Event.objects.filter(closed_at__gte=start, closed_at__lt=end)
        .annotate(township=Substr("grid_code", 1, 9))
        .values("township", "category__code", "channel")
        .annotate(n=Count("pk"), on_time=Count("pk", filter=Q(closed_on_time=True)))
        .order_by()
    )
    for r in closed:
        figures[_key(r)][1] += r["n"]
        figures[_key(r)][2] += r["on_time"]
    return dict(figures)


def _key(row: dict[str, object]) -> Key:
    return (str(row["township"]), str(row["category__code"] or "")[:2], str(row["channel"]))


def refresh(day: date) -> int:
    """Replace the day's rows when the events say otherwise; the number of rows written."""
    figures = compute(day)
    stored = {
        (s.township, s.category, s.channel): [s.reported, s.closed, s.closed_on_time]
        for s in DailyStat.objects.filter(day=day)
    }
    if stored == figures:
        return 0
    with transaction.atomic():
        DailyStat.objects.filter(day=day).delete()
        DailyStat.objects.bulk_create(
            DailyStat(
                day=day,
                township=k[0],
                category=k[1],
                channel=k[2],
                reported=v[0],
                closed=v[1],
                closed_on_time=v[2],
            )
            for k, v in figures.items()
        )
    return len(figures)


def rebuild(since: date | None = None, now: datetime | None = None) -> int:
    """Recompute every finished day from ``since`` (default: the first report) to yesterday."""
    today = local_day(now or timezone.now())
    if since is None:
        first = Event.objects.order_by("reported_at").values_list("reported_at", flat=True)[:1]
        if not first:
            return 0
        since = local_day(first[0])
    written, day = 0, since
    while day < today:
        written += refresh(day)
        day += timedelta(days=1)
    return written


_last_run = 0.0


@job("statistics")
def refresh_recent(now: datetime) -> int:
    """The last two finished days, at most every STATS_REFRESH_SECONDS (a cheap read when
    nothing changed; a write only when something did)."""
    global _last_run
    if time.monotonic() - _last_run < settings.STATS_REFRESH_SECONDS:
        return 0
    _last_run = time.monotonic()
    today = local_day(now)
    return sum(refresh(today - timedelta(days=n)) for n in (2, 1))
