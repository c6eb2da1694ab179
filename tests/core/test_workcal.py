"""Working-time arithmetic on the Chinese calendar: weekends, National Day, 调休 Saturdays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gridgov.core import workcal
from gridgov.core.models import CalendarDay

pytestmark = pytest.mark.django_db
CST = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


@pytest.fixture
def cal() -> workcal.Calendar:
    workcal.sync_from_package()
    workcal.invalidate()
    return workcal.calendar()


def test_the_2026_national_day_and_its_make_up_days_are_seeded(cal: workcal.Calendar) -> None:
    assert not cal.is_workday(at(2026, 10, 1).date())  # Thursday, National Day
    assert not cal.is_workday(at(2026, 10, 7).date())
    assert cal.is_workday(at(2026, 10, 10).date())  # Saturday, 调休 make-up day
    assert cal.is_workday(at(2026, 9, 20).date())  # Sunday, make-up day
    assert not cal.is_workday(at(2026, 10, 11).date())  # an ordinary Sunday


def test_working_hours_skip_the_night_and_the_weekend(cal: workcal.Calendar) -> None:
    # Friday 2026-11-20 16:30 + 4 working hours: 1 h on Friday, 3 h from Monday 08:30
    assert cal.add(at(2026, 11, 20, 16, 30), 4, "wh") == at(2026, 11, 23, 11, 30)
    # the lunch break does not count
    assert cal.add(at(2026, 11, 23, 11, 0), 2, "wh") == at(2026, 11, 23, 14, 0)
    # a report at night starts counting at 08:30
    assert cal.add(at(2026, 11, 23, 22, 0), 1, "wh") == at(2026, 11, 24, 9, 30)


def test_working_days_cross_national_day_into_the_make_up_saturday(cal: workcal.Calendar) -> None:
    start = at(2026, 9, 30, 16, 0)  # Wednesday before the holiday
    # 1 wd = 8 working hours: 1.5 h on 30 Sep; 1–7 Oct are off; 6.5 h on 8 Oct → 16:00
    assert cal.add(start, 1, "wd") == at(2026, 10, 8, 16, 0)
    # 3 wd: 8 Oct, 9 Oct (Fri), then Saturday 10 Oct, a make-up working day
    assert cal.add(start, 3, "wd") == at(2026, 10, 10, 16, 0)
    # 4 wd: Sunday 11 Oct is off again → Monday 12 Oct
    assert cal.add(start, 4, "wd") == at(2026, 10, 12, 16, 0)


def test_clock_units_ignore_the_calendar(cal: workcal.Calendar) -> None:
    assert cal.add(at(2026, 10, 1, 23, 50), 30, "min") == at(2026, 10, 2, 0, 20)
    assert cal.add(at(2026, 10, 1, 23, 0), 2, "h") == at(2026, 10, 2, 1, 0)


def test_elapsed_is_the_inverse_of_add(cal: workcal.Calendar) -> None:
    start = at(2026, 9, 30, 16, 0)
    for amount, unit in [(3, "wd"), (11, "wh"), (90, "min"), (5, "h")]:
        end = cal.add(start, amount, unit)
        assert cal.elapsed(start, end, unit) == pytest.approx(amount)


def test_an_administrator_can_declare_a_holiday(cal: workcal.Calendar) -> None:
    CalendarDay.objects.update_or_create(
        date=at(2026, 11, 24).date(), defaults={"kind": "holiday", "source": "admin"}
    )
    workcal.invalidate()
    fresh = workcal.calendar()
    assert fresh.add(at(2026, 11, 23, 17, 0), 1, "wh") == at(2026, 11, 25, 9, 0)
    assert workcal.sync_from_package() == 0  # a re-sync keeps the admin's day
    assert CalendarDay.objects.get(date=at(2026, 11, 24).date()).kind == "holiday"
