"""The command views in a real browser, as a street operator, a county centre leader and a city
leader: the supervision board, the map (clusters, grid boundaries, heat), the grid pages, an
Excel export and the leader wall at 1920 × 1080. Each page is photographed; any console error or
request leaving the machine fails the test (tests/pages.py)."""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from gridgov.accounts import totp
from gridgov.accounts.models import User
from gridgov.accounts.roles import Role
from gridgov.events import services
from gridgov.events.intake import Report, do_intake
from gridgov.events.services import Input
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from ..factories import user_with_post
from ..helpers import point_in
from ..pages import Site, in_thread
from .test_console_pages import _with_password, shot, sign_in


@dataclass
class Command:
    township: str
    grid: str
    people: dict[str, User]


@pytest.fixture(scope="module")
def command(django_db_setup: Any, django_db_blocker: Any) -> Command:
    """A quiet Qiaoxi street (the last one, which no other page test uses) with a few events in
    several states, and the three people who look at them."""

    def make() -> Command:
        township = max(
            u.region_id
            for u in OrgUnit.objects.filter(
                kind=OrgUnit.Kind.CENTRE, region__code__startswith="130104"
            )
            if len(u.region_id) == 9
        )
        grid = Grid.objects.filter(code__startswith=township, effective_to=None).order_by("code")[0]
        people = {
            "street_operator": _with_password(user_with_post(Role.OPERATOR, township)),
            "county_leader": _with_password(user_with_post(Role.CENTRE_LEADER, "130104")),
            "city_leader": _with_password(user_with_post(Role.LEADER, "1301")),
        }
        leader = user_with_post(Role.CENTRE_LEADER, township)
        for user in (people["county_leader"], people["city_leader"]):
            totp.enrol(user)
        op = people["street_operator"]
        lon, lat = point_in(grid.code)
        for i, urgent in enumerate([False, False, False, False, True, True]):
            report = Report(
                channel=["web", "wechat", "app", "phone", "web", "wechat"][i],
                title=f"指挥视图测试{i}",
                description="测试",
                lon=lon + i * 0.0003,
                lat=lat,
                category="0202",
                urgency="urgent" if urgent else "normal",
            )
            event = do_intake(report, str(uuid.uuid4())).event
            if urgent:
                continue  # urgent reports wait at the county centre (the wall's ticker)
            if i >= 1:
                event = services.act(event.pk, "accept", op, Input())
            if i >= 2:
                event = services.act(event.pk, "dispatch", op, Input(target_grid=grid.code))
                services.act(event.pk, "supervise", leader, Input(reason="请加快", level="listed"))
        return Command(township, grid.code, people)

    with django_db_blocker.unblock():
        return in_thread(make)


PEOPLE = ["street_operator", "county_leader", "city_leader"]


def until(check: Any, seconds: float = 15) -> None:
    """Wait for a condition the page reaches by itself (the CSP forbids evaluated predicates)."""
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "the page did not get there"
        time.sleep(0.1)


@pytest.mark.parametrize("who", PEOPLE)
def test_the_board(page: Any, site: Site, command: Command, who: str) -> None:
    sign_in(page, command.people[who])
    page.click("nav a[href='/console/board/']")
    page.wait_for_selector("#board table.figures")
    assert page.locator("#board .tab").count() == 5
    page.click("#board .tab[data-tab='urged']")
    page.wait_for_selector("#board table.rows")
    assert "指挥视图测试" in page.locator("#board table.rows").inner_text()
    shot(page, f"board-{who}")


@pytest.mark.parametrize("who", PEOPLE)
def test_the_map(page: Any, site: Site, command: Command, who: str) -> None:
    sign_in(page, command.people[who])
    page.goto("/console/map/")
    page.wait_for_selector("#map-count:not(:empty)")
    page.wait_for_selector("#command-map .marker-cluster, #command-map canvas")
    page.check("#layer-grids")
    page.wait_for_selector("#command-map path.leaflet-interactive, #command-map canvas")
    page.check("#layer-heat")
    page.wait_for_selector("#command-map canvas.leaflet-heatmap-layer")
    shot(page, f"map-{who}")


@pytest.mark.parametrize("who", PEOPLE)
def test_the_grid_pages(page: Any, site: Site, command: Command, who: str) -> None:
    sign_in(page, command.people[who])
    page.goto(f"/console/grids/?q={command.grid}")
    page.wait_for_selector(f"tr[data-grid='{command.grid}']")
    page.wait_for_selector("#grids-map .leaflet-interactive, #grids-map canvas")
    shot(page, f"grids-{who}")
    page.click(f"a[href='/console/grids/{command.grid}/']")
    page.wait_for_selector("#grid-map .leaflet-interactive, #grid-map canvas")
    assert "指挥视图测试" in page.locator("table.rows").inner_text()
    shot(page, f"grid-{who}")


@pytest.mark.parametrize("who", PEOPLE)
def test_the_wall(page: Any, site: Site, command: Command, who: str) -> None:
    sign_in(page, command.people[who])
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto("/console/wall/")
    until(lambda: page.locator("#k-open").inner_text() != "–")
    page.wait_for_selector("#c-trend canvas")
    page.wait_for_selector("#w-urgent li")
    body = page.locator("#wall").inner_text()
    assert "指挥视图测试" not in body  # titles (and people) never reach the wall
    # nothing is cropped: the wall fits the screen
    box = page.locator("#wall").bounding_box()
    assert box is not None and box["width"] <= 1920.5 and box["height"] <= 1080.5
    shot(page, f"wall-{who}")


def test_an_export_downloads_from_the_board(page: Any, site: Site, command: Command) -> None:
    sign_in(page, command.people["street_operator"])
    page.goto("/console/board/?tab=urged")
    with page.expect_download() as info:
        page.click("#board a.export")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    ws = openpyxl.load_workbook(
        io.BytesIO(Path(download.path()).read_bytes()), read_only=True
    ).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "案件编号" and len(rows) == 3  # header and the two urged events
