"""The grid workers' app in a real phone-sized browser (Debian's Chromium, 360 × 640, position
set): it installs (manifest, service worker) and opens with no network; a worker with no signal
files two reports with photos and signs for a task, closes the app, opens it again, gets the
signal back, and the server holds exactly those two reports and that one action; an action on a
task the centre changed meanwhile shows why it was refused; a patrol with three check-ins reaches
the centre. Every screen is photographed; any console error or outside request fails the test.

The people and events live in a township no other page test uses (the live server's data is
committed)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from gridgov.accounts.models import User
from gridgov.accounts.roles import Role
from gridgov.events import services
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Attachment, Event, TimelineEntry
from gridgov.events.services import Input
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from ..factories import user_with_post
from ..helpers import point_in
from ..pages import SCREENSHOTS, Site, Watch, in_thread
from .test_console_pages import PASSWORD, _with_password, sign_in

PHONE = {"width": 360, "height": 640}


@dataclass
class Crew:
    township: str
    grid: str
    lon: float
    lat: float
    worker: User
    operator: User
    to_sign: str
    to_check: str


def _event(grid: str, title: str) -> Event:
    lon, lat = point_in(grid)
    report = Report(
        channel="web",
        title=title,
        description=f"{title}，请处理。",
        lon=lon,
        lat=lat,
        category="0202",
    )
    return do_intake(report, str(uuid.uuid4())).event


@pytest.fixture(scope="module")
def crew(django_db_setup: Any, django_db_blocker: Any) -> Crew:
    """A grid of a Xinhua street with its worker, a second worker who handled a task now
    waiting for a check, the street's operator, and one task to sign for."""

    def make() -> Crew:
        township = min(
            u.region_id
            for u in OrgUnit.objects.filter(
                kind=OrgUnit.Kind.CENTRE, region__code__startswith="130105"
            )
            if len(u.region_id) == 9
        )
        grid = Grid.objects.filter(code__startswith=township, effective_to=None).order_by("code")[0]
        worker = _with_password(user_with_post(Role.GRID_WORKER, grid.code))
        other = user_with_post(Role.GRID_WORKER, grid.code)
        operator = _with_password(user_with_post(Role.OPERATOR, township))
        to_sign = _event(grid.code, "井盖缺失")
        to_sign = services.act(to_sign.pk, "accept", operator, Input())
        to_sign = services.act(to_sign.pk, "dispatch", operator, Input(target_grid=grid.code))
        to_check = _event(grid.code, "占道堆放杂物")
        steps = [
            ("accept", operator, Input()),
            ("dispatch", operator, Input(target_grid=grid.code)),
            ("sign", other, Input()),
            ("report_result", other, Input(note="已清理")),
        ]
        for action, who, inp in steps:
            to_check = services.act(to_check.pk, action, who, inp)
        lon, lat = point_in(grid.code)
        return Crew(township, grid.code, lon, lat, worker, operator, to_sign.code, to_check.code)

    with django_db_blocker.unblock():
        return make()


@pytest.fixture
def phone(chromium: Any, site: Site, crew: Crew, request: Any) -> Iterator[Any]:
    """A phone: 360 × 640, Chinese, its position where the grid is, service workers allowed;
    fails on any console error or outside request, photographs where the test ended."""
    context = chromium.new_context(
        locale="zh-CN",
        base_url=site.base,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": crew.lat, "longitude": crew.lon, "accuracy": 12},
        permissions=["geolocation"],
        service_workers="allow",
    )
    watch = Watch()
    context.route("**/*", watch.route)
    context.watch = watch
    context.on("page", lambda pg: _watch_page(pg, watch))
    try:
        yield context
    finally:
        for n, pg in enumerate(context.pages):
            snap(pg, f"{request.node.name}-end-{n}")
        context.close()
    assert not watch.problems, "\n".join(watch.problems)


def _watch_page(pg: Any, watch: Watch) -> None:
    pg.on("console", watch.console)
    pg.on("pageerror", watch.page_error)


def snap(pg: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"mobile-{name}.png"), full_page=True)


def camera_photo(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> str:
    """A large camera JPEG with EXIF: the maker, the time and a GPS position."""
    im = Image.new("RGB", (4000, 3000), colour)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:11:27 09:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (38.0, 2.0, 30.0)
    gps[3], gps[4] = "E", (114.0, 30.0, 15.0)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, exif=exif)
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return str(path)


def open_app(context: Any) -> Any:
    pg = context.new_page()
    pg.goto("/m/")
    pg.wait_for_selector("body[data-ready='1']")
    return pg


def sign_in_app(pg: Any, user: User) -> None:
    pg.fill("#f-signin input[name=username]", user.username)
    pg.fill("#f-signin input[name=password]", PASSWORD)
    snap(pg, "1-signin")
    pg.click("#f-signin button[type=submit]")
    pg.wait_for_selector("#s-home:not([hidden])")
    expect(pg.locator("#home-sync")).to_contain_text("上次同步")


def controlled(pg: Any) -> None:
    """The service worker has installed and controls the page: the app now opens offline."""
    pg.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def file_report(pg: Any, title: str, photo: str) -> None:
    pg.goto("/m/#home")
    pg.goto("/m/#report")
    pg.wait_for_selector("#s-report:not([hidden])")
    expect(pg.locator("#report-where")).to_contain_text("±")
    pg.select_option("#report-category", "0202")
    pg.fill("#f-report input[name=title]", title)
    pg.fill("#f-report textarea[name=description]", f"{title}，巡查发现。")
    pg.set_input_files("#f-report input[name=photos]", photo)
    pg.wait_for_selector("#f-report .m-photos[data-role=photo] img.m-thumb")
    pg.click("#f-report button[type=submit]")
    expect(pg.locator("#report-error")).to_contain_text("手机")


def queue_action(pg: Any, code: str, action: str, **fields: str) -> None:
    event_id = in_thread(lambda: str(Event.objects.get(code=code).pk))
    pg.goto(f"/m/#task/{event_id}")
    form = pg.locator(f"form.m-action[data-action='{action}']")
    for name, value in fields.items():
        form.locator(f"[name='{name}']").fill(value)
    form.locator("button[type=submit]").click()
    pg.wait_for_selector("#task-detail .m-badge")


def waiting(pg: Any) -> int:
    return int(pg.locator("#n-outbox").inner_text())


def test_the_app_installs_and_opens_with_no_network(phone: Any, crew: Crew) -> None:
    pg = open_app(phone)
    manifest = pg.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/m/"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    icon = pg.evaluate("fetch('/m/icon-512.png').then(r => r.headers.get('content-type'))")
    assert icon == "image/png"
    sign_in_app(pg, crew.worker)
    controlled(pg)
    phone.set_offline(True)
    pg.close()
    pg = open_app(phone)  # from the service worker's copy, with no network
    assert pg.locator("#s-home").is_visible()
    assert pg.locator("#m-net").inner_text() == "无信号：离线工作"
    assert int(pg.locator("#n-sign").inner_text()) >= 1  # the tasks kept on the phone
    snap(pg, "offline-home")
    phone.set_offline(False)


def test_offline_reports_and_actions_arrive_exactly_once(
    phone: Any, crew: Crew, site: Site, tmp_path: Path
) -> None:
    pg = open_app(phone)
    sign_in_app(pg, crew.worker)
    controlled(pg)
    snap(pg, "2-home")
    pg.goto("/m/#tasks/sign")
    pg.wait_for_selector("#task-list .m-item")
    snap(pg, "3-tasks")

    phone.set_offline(True)
    file_report(pg, "路灯不亮", camera_photo(tmp_path, "a.jpg", (200, 60, 60)))
    snap(pg, "4-report")
    file_report(pg, "垃圾满溢", camera_photo(tmp_path, "b.jpg", (60, 60, 200)))
    queue_action(pg, crew.to_sign, "sign")
    snap(pg, "5-task-signed-offline")
    queue_action(pg, crew.to_check, "verify_pass")
    assert waiting(pg) == 4

    # Meanwhile the centre sends the checked task back for rework.
    def centre_changes_it() -> None:
        event = Event.objects.get(code=crew.to_check)
        services.act(event.pk, "verify_fail", crew.operator, Input(reason="现场仍有杂物"))

    in_thread(centre_changes_it)
    pg.close()
    pg = open_app(phone)  # still no network: the app and its outbox come back
    pg.goto("/m/#me")
    assert pg.locator("#outbox-list .m-item").count() == 4
    snap(pg, "6-outbox-offline")

    phone.set_offline(False)
    pg.evaluate("window.dispatchEvent(new Event('online'))")
    expect(pg.locator("#n-outbox")).to_have_text("0", timeout=60000)
    pg.wait_for_selector("#outbox-list .m-item.refused")
    refused = pg.locator("#outbox-list .m-item.refused")
    assert refused.count() == 1
    assert "中心已更改此任务" in refused.inner_text() and "处置中" in refused.inner_text()
    snap(pg, "7-refused")

    def server_side() -> dict[str, Any]:
        mine = Event.objects.filter(reported_by=crew.worker, channel="app")
        signed = TimelineEntry.objects.filter(
            event__code=crew.to_sign, action="sign", actor=crew.worker
        )
        return {
            "titles": sorted(mine.values_list("title", flat=True)),
            "photos": [e.attachments.count() for e in mine],
            "signed": signed.count(),
            "state": Event.objects.get(code=crew.to_sign).state,
            "checked": Event.objects.get(code=crew.to_check).state,
            "files": [
                (site.data_dir / "media" / a.file.name).read_bytes()
                for a in Attachment.objects.filter(event__in=mine)
            ],
            "stamps": list(
                Attachment.objects.filter(event__in=mine).values_list(
                    "lon", "lat", "accuracy_m", "taken_at", "device_time"
                )
            ),
        }

    seen = in_thread(server_side)
    assert seen["titles"] == ["垃圾满溢", "路灯不亮"]
    assert seen["photos"] == [1, 1]
    assert seen["signed"] == 1 and seen["state"] == "in_progress"
    assert seen["checked"] == "in_progress"  # the refused verify_pass changed nothing
    # The photos went up small, with no EXIF or GPS, and carry where and when they were taken.
    for data in seen["files"]:
        im = Image.open(io.BytesIO(data))
        assert max(im.size) <= 1600
        assert not im.getexif() and b"Exif" not in data and b"PhoneMaker" not in data
    for lon, lat, accuracy, taken_at, device_time in seen["stamps"]:
        assert abs(lon - crew.lon) < 1e-4 and abs(lat - crew.lat) < 1e-4 and accuracy == 12
        assert taken_at is not None and device_time is not None

    pg.goto("/m/#me")
    pg.wait_for_selector("#history-list .m-item")
    snap(pg, "8-me")


@pytest.fixture(scope="module")
def checkpoints(crew: Crew, django_db_blocker: Any) -> list[int]:
    """Three set places of the grid, a few dozen metres apart: a school gate, a market, a park."""
    from gridgov.patrol.models import Checkpoint

    places = [("实验小学校门", "school_gate", 0.0), ("农贸市场", "market", 0.0004)]
    places.append(("街心公园", "park", -0.0004))

    def make() -> list[int]:
        return [
            Checkpoint.objects.create(
                name=name, kind=kind, grid_code=crew.grid, lon=crew.lon + dx, lat=crew.lat,
                radius_m=50,
            ).pk
            for name, kind, dx in places
        ]  # fmt: skip

    with django_db_blocker.unblock():
        return make()


def test_a_patrol_with_three_check_ins_reaches_the_centre(
    phone: Any, crew: Crew, checkpoints: list[int], chromium: Any, site: Site
) -> None:
    pg = open_app(phone)
    sign_in_app(pg, crew.worker)
    pg.goto("/m/#patrol")
    pg.click("#b-patrol")
    expect(pg.locator("#patrol-status")).to_contain_text("巡查中")
    for n, cp in enumerate(checkpoints):
        dx = [0.0, 0.0004, -0.0004][n]
        phone.set_geolocation({"latitude": crew.lat, "longitude": crew.lon + dx, "accuracy": 8})
        button = pg.locator(f"#checkpoint-list button[data-checkpoint='{cp}']")
        expect(button).to_be_visible()
        button.click()
        expect(pg.locator("#checkpoint-list .m-badge.ok")).to_have_count(n + 1)
    snap(pg, "9-patrol")
    pg.click("#b-patrol")
    expect(pg.locator("#patrol-status")).to_contain_text("未在巡查")
    pg.goto("/m/#home")
    expect(pg.locator("#n-outbox")).to_have_text("0", timeout=60000)

    def patrol_of_the_worker() -> dict[str, Any]:
        from gridgov.patrol.models import Patrol

        p = Patrol.objects.get(worker=crew.worker)
        return {
            "id": str(p.pk),
            "ended": p.ended_at is not None,
            "checkins": sorted(p.checkins.values_list("checkpoint_id", flat=True)),
            "within": list(p.checkins.values_list("within", flat=True)),
        }

    patrol = in_thread(patrol_of_the_worker)
    assert patrol["ended"] and patrol["checkins"] == sorted(checkpoints)
    assert all(patrol["within"])

    # The centre sees who patrolled where.
    centre = chromium.new_context(locale="zh-CN", base_url=site.base)
    watch = Watch()
    centre.route("**/*", watch.route)
    desk = centre.new_page()
    desk.on("console", watch.console)
    desk.on("pageerror", watch.page_error)
    try:
        sign_in(desk, crew.operator)
        desk.goto("/console/patrols/")
        row = desk.locator(f"#patrol-rows tr[data-patrol='{patrol['id']}']")
        expect(row).to_be_visible()
        assert crew.grid in row.inner_text()
        desk.wait_for_load_state("networkidle")
        desk.wait_for_selector("#patrol-map canvas")  # tracks and places are drawn on a canvas
        desk.screenshot(path=str(SCREENSHOTS / "mobile-10-centre-patrols.png"), full_page=True)
        drawn = desk.evaluate(
            "() => fetch(document.getElementById('patrol-map').dataset.url).then(r => r.json())"
        )
        mine = next(p for p in drawn["patrols"] if p["id"] == patrol["id"])
        assert len(mine["track"]) >= 2 and len(mine["checkins"]) == 3
        desk.goto(f"/console/patrols/{patrol['id']}/")
        for name in ("实验小学校门", "农贸市场", "街心公园"):
            assert name in desk.content()
        desk.screenshot(path=str(SCREENSHOTS / "mobile-11-centre-patrol.png"), full_page=True)
    finally:
        centre.close()
    assert not watch.problems, "\n".join(watch.problems)
