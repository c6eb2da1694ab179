"""Working-time arithmetic on the Chinese calendar.

Units: ``min`` and ``h`` run on the clock (urgent work does); ``wh`` (working hours) and ``wd``
(working days) run only inside office hours on working days: Monday–Friday unless the calendar
says holiday, plus make-up Saturdays and Sundays (调休). A working day counts as one day's office
hours, so "1 wd" from Friday 16:00 ends Monday 16:00.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime

from django.utils import timezone

UNITS = ("min", "h", "wh", "wd")
_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Calendar:
    overrides: dict[date, bool]  # date -> is working day
    periods: tuple[tuple[dtime, dtime], ...]

    @property
    def minutes_per_day(self) -> int:
        return sum(_minutes(a, b) for a, b in self.periods)

    def is_workday(self, day: date) -> bool:
        return self.overrides.get(day, day.weekday() < 5)

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(day):
            return []
        tz = timezone.get_current_timezone()
        return [
            (datetime.combine(day, a, tzinfo=tz), datetime.combine(day, b, tzinfo=tz))
            for a, b in self.periods
        ]

    def add(self, start: datetime, amount: float, unit: str) -> datetime:
        """``start`` plus ``amount`` of ``unit``; working units skip nights and days off."""
        if unit == "min":
            return start + timedelta(minutes=amount)
        if unit == "h":
            return start + timedelta(hours=amount)
        minutes = amount * (60 if unit == "wh" else self.minutes_per_day)
        if unit not in ("wh", "wd"):
            raise ValueError(f"unknown time unit {unit!r}")
        return self.add_working_minutes(start, minutes)

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        local = timezone.localtime(start)
        remaining = timedelta(minutes=minutes)
        day = local.date()
        for _ in range(3660):  # ten years of days is more than any limit
            for open_, close in self.windows(day):
                begin = max(open_, local)
                if begin >= close:
                    continue
                if begin + remaining <= close:
                    return begin + remaining
                remaining -= close - begin
            day += timedelta(days=1)
        raise ValueError("working time runs beyond the calendar")

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        a, b = timezone.localtime(start), timezone.localtime(end)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            for open_, close in self.windows(day):
                lo, hi = max(open_, a), min(close, b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 60

    def elapsed(self, start: datetime, end: datetime, unit: str) -> float:
        """How much of ``unit`` lies between two moments (used to pause and resume clocks)."""
        if unit in ("min", "h"):
            seconds = max((end - start).total_seconds(), 0.0)
            return seconds / (60 if unit == "min" else 3600)
        minutes = self.working_minutes_between(start, end)
        return minutes / (60 if unit == "wh" else self.minutes_per_day)


def _minutes(a: dtime, b: dtime) -> int:
    return (b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)


_lock = threading.Lock()
_cached: tuple[float, Calendar] | None = None


def load() -> Calendar:
    from .models import CalendarDay, WorkSchedule

    sched = WorkSchedule.objects.filter(id=1).first() or WorkSchedule()
    periods = tuple(
        (_as_time(a), _as_time(b))
        for a, b in (
            (sched.morning_start, sched.morning_end),
            (sched.afternoon_start, sched.afternoon_end),
        )
    )
    overrides = {
        d: kind == CalendarDay.Kind.WORKDAY
        for d, kind in CalendarDay.objects.values_list("date", "kind")
    }
    return Calendar(overrides, periods)


def _as_time(value: dtime | str) -> dtime:
    return value if isinstance(value, dtime) else dtime.fromisoformat(value)


def calendar() -> Calendar:
    """This process's calendar, re-read from the database at most every 30 seconds."""
    global _cached
    with _lock:
        now = time.monotonic()
        if _cached is None or now - _cached[0] > _CACHE_SECONDS:
            _cached = (now, load())
        return _cached[1]


def invalidate() -> None:
    global _cached
    with _lock:
        _cached = None


def sync_from_package() -> int:
    """Add the holidays and make-up days ``chinese-calendar`` knows that are not yet here.
    Days already present (from an earlier sync or edited by an administrator) are kept."""
    import chinese_calendar

    from .models import CalendarDay

    have = set(CalendarDay.objects.values_list("date", flat=True))
    rows = [
        CalendarDay(date=d, kind=CalendarDay.Kind.HOLIDAY, name=str(name or ""))
        for d, name in chinese_calendar.holidays.items()
        if d not in have and d.weekday() < 5  # weekend holidays are already days off
    ] + [
        CalendarDay(date=d, kind=CalendarDay.Kind.WORKDAY, name=str(name or ""))
        for d, name in chinese_calendar.workdays.items()
        if d not in have and d.weekday() >= 5  # only the make-up weekend days matter
    ]
    CalendarDay.objects.bulk_create(rows, batch_size=500)
    invalidate()
    return len(rows)
