"""Issue 11 in a phone-sized browser (Debian's Chromium, 360 × 640, position set): a citizen
with no account reports a problem with a photo; the page puts the phone's WGS-84 fix on a
GCJ-02 basemap (as on Amap's or Tencent's) and sends the GCJ-02 value, which the server turns
back into the grid of the WGS-84 point. The report appears on the square map only after a
centre accepts it, at a place snapped to about 100 m, and nothing of the reporter is in the
square map's page or data. The citizen follows it by number and phone digits and rates the
result after closing. Every page is photographed; a console error or an outside request fails.

A server of its own (a GCJ-02 basemap, an approval number) on the test database; the events
are made in a Xinhua street no other page test uses, and removed afterwards."""

from __future__ import annotations

import io
import json
import math
import urllib.request
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
from gridgov.events.models import Event
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from .. import live
from ..factories import user_with_post
from ..helpers import point_in
from ..pages import SCREENSHOTS, collectstatic, in_thread, watched

PHONE = {"width": 360, "height": 640}
NAME, PHONE_NO = "赵秀兰", "13812349876"
APPROVAL = "冀S(2026)001号"


@dataclass
class Town:
    base: str
    grid: str
    lon: float
    lat: float
    operator: User
    worker: User
    leader: User


@pytest.fixture(scope="module")
def town(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Town]:
    data = tmp_path_factory.mktemp("public-site")
    extra = {
        "GRIDGOV_DATA_DIR": str(data),
        "GRIDGOV_MAP_TILES_CRS": "gcj02",
        "GRIDGOV_MAP_APPROVAL_NUMBER": APPROVAL,
        "GRIDGOV_PUBLIC_CHALLENGE_BITS": "12",
        "GRIDGOV_SQUARE_CACHE_SECONDS": "0",
    }
    with django_db_blocker.unblock():
        township = max(
            u.region_id
            for u in OrgUnit.objects.filter(
                kind=OrgUnit.Kind.CENTRE, region__code__startswith="130105"
            )
            if len(u.region_id) == 9
        )
        grid = Grid.objects.filter(code__startswith=township, effective_to=None).order_by("code")[0]
        lon, lat = point_in(grid.code)
        operator = user_with_post(Role.OPERATOR, township)
        worker = user_with_post(Role.GRID_WORKER, grid.code)
        leader = user_with_post(Role.GRID_LEADER, grid.code)
        collectstatic(live.test_db_env(**extra))
        try:
            with live.live_server(workers=1, threads=4, **extra) as (_proc, port):
                base = f"http://127.0.0.1:{port}"
                yield Town(base, grid.code, lon, lat, operator, worker, leader)
        finally:
            Event.objects.filter(grid_code__startswith=township).delete()


@pytest.fixture
def phone(chromium: Any, town: Town, request: Any) -> Iterator[Any]:
    context = chromium.new_context(
        locale="zh-CN",
        base_url=town.base,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": town.lat, "longitude": town.lon, "accuracy": 15},
        permissions=["geolocation"],
    )
    pg, watch = watched(context)
    try:
        yield pg
    finally:
        context.close()
    assert not watch.problems, "\n".join(watch.problems)


def shot(pg: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"public-{name}.png"), full_page=True)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1200, 900), (180, 120, 60)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    rad = math.radians(lat)
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)


def get(base: str, path: str) -> str:
    with urllib.request.urlopen(base + path, timeout=30) as r:  # noqa: S310 — loopback only
        return str(r.read().decode())


def square_data(town: Town, e: Event) -> list[tuple[str, str]]:
    """Every answer of the square map about the event's place: tiles at several zooms, and
    the list at its snapped place."""
    answers = []
    for z in (10, 13, 16, 18):
        z, x, y = tile_of(e.lon, e.lat, z)
        path = f"/api/v1/public/square/tiles/{z}/{x}/{y}"
        answers.append((path, get(town.base, path)))
    cells = json.loads(answers[-1][1])["cells"]
    for cell in cells:
        path = f"/api/v1/public/square/spot?lon={cell['lon']}&lat={cell['lat']}"
        answers.append((path, get(town.base, path)))
    return answers


def total(body: str) -> int:
    return sum(c["count"] for c in json.loads(body)["cells"])


def near(cell: dict[str, Any], e: Event) -> bool:
    """The cell the event is counted in: its centre within half a 0.001° cell."""
    return abs(cell["lon"] - e.lon) <= 0.0005 and abs(cell["lat"] - e.lat) <= 0.0005


def file_a_report(pg: Any) -> str:
    pg.goto("/r/")
    expect(pg.locator("h1")).to_have_text("上报问题")
    expect(pg.locator("#top option")).not_to_have_count(1)
    shot(pg, "report-empty")
    pg.select_option("#top", "02")
    pg.select_option("#category", "0202")
    pg.fill("#description", "小区门口有流动摊贩占道经营，行人只能走机动车道。")
    pg.set_input_files(
        "#photos", files=[{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
    )
    expect(pg.locator("#photo-list img")).to_have_count(1)
    pg.click("#locate")
    expect(pg.locator("#place-status")).to_contain_text("已获取位置")
    pg.fill("#address", "新华路与和平路交叉口东50米")
    pg.fill("#name", NAME)
    pg.fill("#phone", PHONE_NO)
    shot(pg, "report-filled")
    pg.click("#submit")
    expect(pg.locator("#receipt")).to_be_visible(timeout=60_000)
    shot(pg, "report-receipt")
    return str(pg.locator("#receipt-code").inner_text())


def test_a_citizen_reports_follows_and_rates_and_the_square_map_tells_no_one(
    phone: Any, town: Town
) -> None:
    code = file_a_report(phone)
    e = in_thread(lambda: Event.objects.get(code=code))
    # the GCJ-02 value was sent and kept; the event lies where the WGS-84 fix lies
    assert e.orig_crs == "gcj02" and e.channel == "web" and e.reported_by_id is None
    assert e.grid_code == town.grid
    assert abs(e.lon - town.lon) < 1e-6 and abs(e.lat - town.lat) < 1e-6
    assert abs(e.orig_lon - town.lon) > 1e-3  # GCJ-02 differs by hundreds of metres
    assert in_thread(lambda: e.attachments.filter(kind="image").count()) == 1

    # not on the square map before a centre accepts it (other tests' events may be near)
    before = [total(body) for _path, body in square_data(town, e)[:4]]
    in_thread(lambda: services.act(e.pk, "accept", town.operator, {}))
    answers = square_data(town, e)
    assert [total(body) for _path, body in answers[:4]] == [n + 1 for n in before]
    finest = [c for c in json.loads(answers[3][1])["cells"] if near(c, e)]
    assert [c["count"] for c in finest] == [1]

    phone.goto(f"/r/square/?at={e.lon},{e.lat},17")
    expect(phone.locator("#p-approval")).to_contain_text(APPROVAL)
    expect(phone.locator(".p-dot")).to_have_count(1)
    phone.locator(".p-dot").click()
    expect(phone.locator("#spot-list")).to_contain_text("流动摊贩 · 已受理")
    shot(phone, "square")
    html = get(town.base, f"/r/square/?at={e.lon},{e.lat},17")
    secrets_of_the_reporter = [
        NAME,
        PHONE_NO,
        PHONE_NO[-4:],
        code,
        e.title,
        repr(e.lon),
        repr(e.lat),
        f"{e.lon:.5f}",
        f"{e.lat:.5f}",
        repr(e.orig_lon),
        repr(e.orig_lat),
    ]
    for path, body in [("/r/square/", html), *answers]:
        for secret in secrets_of_the_reporter:
            assert secret not in body, (secret, path)

    # the citizen follows it by number and the phone's last digits, as on another phone (this
    # browser's own list of receipts put aside)
    phone.goto("/r/track/")
    kept = phone.evaluate("localStorage.getItem('gg-reports')")
    phone.evaluate("localStorage.removeItem('gg-reports')")
    phone.fill("#code", code)
    phone.click("#lookup button")  # no digits: asked for them, nothing sent
    expect(phone.locator("#lookup-error")).to_have_text("请输入上报时所留手机号的后四位。")
    phone.fill("#last4", PHONE_NO[-4:])
    phone.click("#lookup button")
    expect(phone.locator("#r-state")).to_have_text("已立案")
    expect(phone.locator("#r-description")).to_contain_text("流动摊贩占道经营")
    expect(phone.locator("#withdraw")).to_be_hidden()
    shot(phone, "track-accepted")
    phone.evaluate("kept => localStorage.setItem('gg-reports', kept)", kept)

    def close() -> None:
        ev = Event.objects.get(pk=e.pk)
        for action, actor, inp in [
            ("dispatch", town.operator, {}),
            ("sign", town.worker, {}),
            ("report_result", town.worker, {"note": "已劝离摊贩"}),
            ("verify_pass", town.leader, {}),
            ("reply", town.operator, {"reply": "已劝离占道摊贩，并纳入每日巡查。"}),
        ]:
            ev = services.act(ev.pk, action, actor, inp)

    in_thread(close)
    phone.goto(f"/r/track/?code={code}")  # this browser sent it: it keeps the receipt
    expect(phone.locator("#r-state")).to_have_text("已结案")
    expect(phone.locator("#r-reply")).to_have_text("已劝离占道摊贩，并纳入每日巡查。")
    phone.check("input[name=rating][value=basically]")
    phone.fill("#comment", "处理及时，希望不要反弹")
    shot(phone, "track-rate")
    phone.click("#rating button")
    expect(phone.locator("#r-rated")).to_contain_text("基本满意")
    shot(phone, "track-rated")
    rated = in_thread(lambda: Event.objects.get(pk=e.pk))
    assert (rated.rating, rated.rating_comment) == ("basically", "处理及时，希望不要反弹")


def test_a_report_can_be_withdrawn_before_acceptance(phone: Any, town: Town) -> None:
    code = file_a_report(phone)
    phone.goto(f"/r/track/?code={code}")
    expect(phone.locator("#withdraw")).to_be_visible()
    phone.once("dialog", lambda d: d.accept())
    phone.click("#withdraw")
    expect(phone.locator("#r-state")).to_have_text("已注销")
    shot(phone, "track-withdrawn")
    assert in_thread(lambda: Event.objects.get(code=code).state) == "cancelled"


def test_screens_are_chinese_by_default(phone: Any, town: Town) -> None:
    pages = [("/r/", "上报问题"), ("/r/track/", "查询进度"), ("/r/square/", "广场地图")]
    for path, heading in pages:
        phone.goto(path)
        expect(phone.locator("h1")).to_have_text(heading)
        assert phone.locator("html").get_attribute("lang") == "zh-hans"
    shot(phone, "square-empty")
    assert Path(SCREENSHOTS / "public-square-empty.png").exists()


def test_a_voice_report_without_words(chromium: Any, town: Town) -> None:
    """The microphone is Chromium's fake device: the page records it as WAV, uploads it and
    files a report with no text."""
    from ..pages import CHROMIUM, FLAGS

    fake_mic = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=FLAGS + fake_mic
    )
    context = browser.new_context(
        locale="zh-CN",
        base_url=town.base,
        viewport=PHONE,
        geolocation={"latitude": town.lat, "longitude": town.lon, "accuracy": 15},
        permissions=["geolocation", "microphone"],
    )
    pg, watch = watched(context)
    try:
        pg.goto("/r/")
        expect(pg.locator("#top option")).not_to_have_count(1)
        pg.click("#voice")
        expect(pg.locator("#voice-status")).to_contain_text("正在录音… 2 秒", timeout=10_000)
        pg.click("#voice")
        expect(pg.locator("#voice-status")).to_contain_text("已录音")
        pg.click("#locate")
        expect(pg.locator("#place-status")).to_contain_text("已获取位置")
        pg.check("#anonymous")
        shot(pg, "report-voice")
        pg.click("#submit")
        expect(pg.locator("#receipt")).to_be_visible(timeout=60_000)
        code = pg.locator("#receipt-code").inner_text()
    finally:
        context.close()
        browser.close()
    assert not watch.problems, "\n".join(watch.problems)
    e = in_thread(lambda: Event.objects.get(code=code))
    voice = in_thread(lambda: list(e.attachments.values_list("kind", "content_type", "duration_s")))
    assert len(voice) == 1 and voice[0][:2] == ("audio", "audio/wav") and voice[0][2] >= 2
    assert e.title == "语音上报" and (e.reporter_name, e.reporter_phone) == ("", "")
