"""The patrol pages in a real browser, as a street operator: the day's list, its map (tracks,
check-ins, checkpoints) and the unpatrolled grids, then one patrol's page. Any console error or
request leaving the machine fails the test (tests/pages.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from gridgov.accounts.models import Post, User
from gridgov.accounts.roles import Role
from gridgov.patrol import services
from gridgov.patrol.models import Checkpoint, Patrol
from gridgov.patrol.services import CheckInData, Fix
from gridgov.regions.models import Grid

from ..factories import user_with_post
from ..pages import Site, in_thread
from ..patrol.kit import points_in
from .test_console_pages import _with_password, shot, sign_in

TOWNSHIP = "130123102"  # a Zhengding town no other page test uses


@dataclass
class Walked:
    operator: User
    patrol: str
    grid: str
    day: str


@pytest.fixture(scope="module")
def walked(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Walked]:
    def make() -> Walked:
        grid = Grid.objects.filter(code__startswith=TOWNSHIP, effective_to=None, kind="base")
        code = grid.order_by("code").values_list("code", flat=True)[0]
        worker = user_with_post(Role.GRID_WORKER, code, display_name="巡查测试网格员")
        operator = _with_password(user_with_post(Role.OPERATOR, TOWNSHIP))
        here = points_in(code, 4)
        start = timezone.now() - timedelta(minutes=40)
        patrol = services.do_start_patrol(worker, uuid.uuid4(), start, *here[0])
        fixes = [
            Fix(start + timedelta(minutes=5 * i), lon, lat, 6) for i, (lon, lat) in enumerate(here)
        ]
        services.do_add_points(worker, patrol.pk, "e2e-batch-1", fixes[1:])
        gate = Checkpoint.objects.create(
            name="巡查测试小学校门",
            kind="school_gate",
            grid_code=code,
            lon=here[1][0],
            lat=here[1][1],
        )
        at = Fix(start + timedelta(minutes=6), here[1][0], here[1][1] + 0.003, 10)
        services.do_check_in(worker, patrol.pk, CheckInData(uuid.uuid4(), gate.pk, at))
        services.do_end_patrol(worker, patrol.pk, start + timedelta(minutes=30))
        day = timezone.localdate(start).isoformat()
        return Walked(operator, str(patrol.pk), code, day)

    def clean(w: Walked) -> None:
        Patrol.objects.filter(pk=w.patrol).delete()
        Checkpoint.objects.filter(name="巡查测试小学校门").delete()
        Post.objects.filter(scope_code__startswith=TOWNSHIP).update(active=False)

    with django_db_blocker.unblock():
        w = in_thread(make)
    yield w
    with django_db_blocker.unblock():
        in_thread(lambda: clean(w))


def test_the_days_patrols_on_a_map(page: Any, site: Site, walked: Walked) -> None:
    sign_in(page, walked.operator)
    page.click("nav a[href='/console/patrols/']")
    page.wait_for_selector("#patrol-rows")
    # the patrol began 40 minutes ago: on yesterday's page just after local midnight
    page.goto(f"/console/patrols/?day={walked.day}")
    page.wait_for_selector(f"tr[data-patrol='{walked.patrol}']")
    assert "巡查测试网格员" in page.locator("#patrol-rows").inner_text()
    page.wait_for_selector("#patrol-map canvas")
    page.wait_for_load_state("networkidle")  # the tracks and the grid outlines have come
    assert walked.grid not in page.locator("#unpatrolled").inner_text()
    assert TOWNSHIP in page.locator("#unpatrolled").inner_text()  # its other grids
    shot(page, "patrols")
    page.click(f"tr[data-patrol='{walked.patrol}'] a[href^='/console/patrols/']")
    page.wait_for_selector("#patrol-map canvas")
    page.wait_for_load_state("networkidle")
    assert "巡查测试小学校门" in page.locator("#checkin-rows").inner_text()
    shot(page, "patrol")
