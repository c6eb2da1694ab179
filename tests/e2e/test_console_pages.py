"""The console in a real browser: the closed loop walked across posts (street operator,
department handler, grid worker, centre leader), a refused return, an approved extension and two
operators on one event. Each page is photographed; any console error or outside request fails.

The events live in a township no other test uses, since the live server's data is committed."""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from PIL import Image

from gridgov.accounts import totp
from gridgov.accounts.models import TotpDevice, User
from gridgov.accounts.roles import Role
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Event
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from ..factories import user_with_post
from ..helpers import point_in
from ..pages import SCREENSHOTS, Site, in_thread

PASSWORD = "Console-test-7b"
DEPARTMENT = "D1301-01"  # 城管局: its handlers take the city's street-order work


@dataclass
class Cast:
    township: str
    grid: str
    operator: User
    second_operator: User
    leader: User
    handler: User
    worker: User


def _with_password(user: User) -> User:
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    return user


@pytest.fixture(scope="module")
def cast(django_db_setup: Any, django_db_blocker: Any) -> Cast:
    """People of a quiet Qiaoxi street with a centre, made for these tests only."""

    def make() -> Cast:
        used = {"130104008", "130104001"}
        township = next(
            u.region_id
            for u in OrgUnit.objects.filter(
                kind=OrgUnit.Kind.CENTRE, region__code__startswith="130104"
            ).order_by("region_id")
            if len(u.region_id) == 9 and u.region_id not in used
        )
        grid = Grid.objects.filter(code__startswith=township, effective_to=None).order_by("code")[0]
        people = Cast(
            township,
            grid.code,
            _with_password(user_with_post(Role.OPERATOR, township)),
            _with_password(user_with_post(Role.OPERATOR, township)),
            _with_password(user_with_post(Role.CENTRE_LEADER, township)),
            _with_password(user_with_post(Role.DEPT_HANDLER, "130104", DEPARTMENT)),
            _with_password(user_with_post(Role.GRID_WORKER, grid.code)),
        )
        totp.enrol(people.leader)
        return people

    with django_db_blocker.unblock():
        return in_thread(make)


def report(cast: Cast, title: str, description_text: str = "", urgent: bool = False) -> str:
    def make() -> str:
        lon, lat = point_in(cast.grid)
        r = Report(
            channel="web",
            title=title,
            description=description_text or f"{title}，请尽快处理。",
            lon=lon,
            lat=lat,
            category="0202",
            address=description_text[:200] or "建设大街与中华大街交叉口",
            reporter_name=description_text[:64] or "李四",
            reporter_phone="13912345678",
            urgency="urgent" if urgent else "normal",
        )
        return str(do_intake(r, str(uuid.uuid4())).event.code)

    return in_thread(make)


def state_of(code: str) -> str:
    return in_thread(lambda: Event.objects.get(code=code).state)


def shot(pg: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def sign_in(pg: Any, user: User) -> None:
    """Sign out whoever is signed in (as people do, by the button), then sign in as ``user``."""
    pg.wait_for_load_state("networkidle")  # the page's own requests (the map) have answered
    out = pg.locator("form[action='/accounts/logout/'] button")
    if out.count():
        with pg.expect_navigation():
            out.click()
    pg.goto("/accounts/login/")
    pg.fill("input[name=username]", user.username)
    pg.fill("input[name=password]", PASSWORD)
    device = in_thread(lambda: TotpDevice.objects.filter(user=user).first())
    if device is not None:
        pg.fill("input[name=otp_code]", unspent_code(device))
    with pg.expect_navigation(url=re.compile(r"/console/(queue|inbox)/")):
        pg.click("button.primary")


def unspent_code(device: TotpDevice) -> str:
    """A code the server will take: the current step's, or, when that one is spent (a second
    sign-in within 30 seconds), the next step's (accepted within the allowed drift). Never an
    earlier step's: the step may end before the server checks it."""
    step = max(totp.step_at(), device.last_step + 1)
    while step > totp.step_at() + totp.DRIFT_STEPS:  # both spent: wait for the next step
        time.sleep(1)
    return totp.code_at(device.secret, step * totp.STEP + 1)


def open_event(pg: Any, code: str) -> None:
    pg.goto(f"/console/events/{code}/")
    pg.wait_for_selector("#event-map .leaflet-interactive")  # the map drew point and grid


def take(pg: Any, code: str, action: str, **fields: str) -> None:
    """Open an action on the event page, fill its form and send it."""
    block = pg.locator(f"details.action[data-action='{action}']")
    block.locator("summary").click()
    for name, value in fields.items():
        field = block.locator(f"[name='{action}-{name}']")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        elif field.get_attribute("type") == "file":
            field.set_input_files(value)
        else:
            field.fill(value)
    with pg.expect_navigation():  # the post, its redirect and the event page as it is now
        block.locator("button.primary").click()


def state_shown(pg: Any) -> str:
    return str(pg.locator("#state").inner_text())


def photo_file(tmp_path: Any) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 120, 60)).save(buf, "JPEG")
    path = tmp_path / "after.jpg"
    path.write_bytes(buf.getvalue())
    return str(path)


def test_the_closed_loop_across_posts(page: Any, site: Site, cast: Cast, tmp_path: Any) -> None:
    code = report(cast, "商户占道经营")
    # the street operator finds it in the queue, accepts, dispatches to the department
    sign_in(page, cast.operator)
    page.goto("/console/queue/")
    assert code in page.locator("#work-list").inner_text()
    shot(page, "loop-1-queue")
    open_event(page, code)
    assert "139****5678" in page.content() and "13912345678" not in page.content()
    take(page, code, "accept")
    assert state_shown(page) == "已立案"
    take(page, code, "dispatch", target_unit=DEPARTMENT)
    assert state_shown(page) == "待签收" and "城市管理局" in page.locator("#assignee").inner_text()
    shot(page, "loop-2-dispatched")
    # the department's handler signs for it and reports back with a photo
    sign_in(page, cast.handler)
    assert page.url.endswith("/console/inbox/")
    assert code in page.locator("#work-list").inner_text()
    shot(page, "loop-3-inbox")
    open_event(page, code)
    take(page, code, "sign")
    assert state_shown(page) == "处置中"
    take(page, code, "report_result", note="已劝离占道商户", photos=photo_file(tmp_path))
    assert state_shown(page) == "待核查"
    page.wait_for_selector(".compare img")
    # the photo is fetched after the element appears: wait for it to load (a broken one never
    # gets a width, and the wait fails)
    page.wait_for_function(
        "() => { const i = document.querySelector('.compare img');"
        " return i !== null && i.complete && i.naturalWidth > 0 }"
    )
    assert page.locator(".compare img").evaluate("img => img.naturalWidth") > 0
    shot(page, "loop-4-reported-back")
    # the grid worker checks on the spot and closes it
    sign_in(page, cast.worker)
    page.goto("/console/inbox/?tab=check")
    assert code in page.locator("#work-list").inner_text()
    page.set_viewport_size({"width": 360, "height": 640})  # a grid worker's phone
    open_event(page, code)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width  # one column: nothing wider than the screen
    shot(page, "loop-5-phone")
    take(page, code, "verify_pass")
    page.set_viewport_size({"width": 1280, "height": 720})
    assert state_shown(page) == "已结案"
    shot(page, "loop-5-verified")
    # the operator calls the reporter back and records it
    sign_in(page, cast.operator)
    open_event(page, code)
    take(page, code, "revisit", satisfaction="5")
    timeline = page.locator("table.timeline").inner_text()
    for step in ("受理", "派遣", "签收", "反馈处置结果", "核查结案", "登记回访"):
        assert step in timeline, (step, timeline)
    shot(page, "loop-6-revisited")
    assert state_of(code) == "closed"


def sent_to_the_department(page: Any, cast: Cast, code: str) -> None:
    """The operator accepts and dispatches to the department; its handler opens the event."""
    sign_in(page, cast.operator)
    open_event(page, code)
    take(page, code, "accept")
    take(page, code, "dispatch", target_unit=DEPARTMENT)
    sign_in(page, cast.handler)
    open_event(page, code)


def test_a_return_the_leader_refuses(page: Any, site: Site, cast: Cast) -> None:
    code = report(cast, "绿化带内堆放杂物")
    sent_to_the_department(page, cast, code)
    take(page, code, "return", reason="不属于本部门职责")
    assert state_shown(page) == "退回待审"
    shot(page, "return-1-returned")
    sign_in(page, cast.leader)
    page.goto("/console/queue/?tab=dispatch")
    assert code in page.locator("#work-list").inner_text()
    open_event(page, code)
    take(page, code, "reject_return", reason="属于城管职责，请继续办理")
    assert state_shown(page) == "待签收"
    shot(page, "return-2-refused")
    assert state_of(code) == "dispatched"


def test_an_extension_the_leader_approves(page: Any, site: Site, cast: Cast) -> None:
    code = report(cast, "人行道破损")
    sent_to_the_department(page, cast, code)
    take(page, code, "sign")
    due_before = in_thread(lambda: Event.objects.get(code=code).due_at)
    take(page, code, "request_extension", reason="需采购材料", amount="2", unit="wd")
    shot(page, "extension-1-requested")
    sign_in(page, cast.leader)
    open_event(page, code)
    take(page, code, "approve_extension")
    assert "同意延期" in page.locator("table.timeline").inner_text()
    shot(page, "extension-2-approved")
    due_after = in_thread(lambda: Event.objects.get(code=code).due_at)
    assert due_before is not None and due_after is not None and due_after > due_before


def test_two_operators_on_one_event(page: Any, site: Site, cast: Cast) -> None:
    code = report(cast, "噪音扰民")
    sign_in(page, cast.second_operator)
    open_event(page, code)  # the second operator's page, soon stale
    other = page.context.browser.new_context(locale="zh-CN", base_url=site.base)
    try:
        first = other.new_page()
        sign_in(first, cast.operator)
        open_event(first, code)
        take(first, code, "accept")
        assert state_shown(first) == "已立案"
    finally:
        other.close()
    take(page, code, "reject", reason="重复上报")
    banner = page.locator("#refusal").inner_text()
    assert "已被他人更改" in banner
    assert state_shown(page) == "已立案"  # the page now shows the event as it is
    shot(page, "stale-told")
    assert state_of(code) == "registered"


HANDLER_ATTRIBUTES = """() => [...document.querySelectorAll('*')].filter(
    e => [...e.attributes].some(a => a.name.startsWith('on') || a.name.startsWith('hx-on'))
).length"""


def test_script_payloads_stay_text_in_the_browser(page: Any, site: Site, cast: Cast) -> None:
    from ..console.payloads import PAYLOADS

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    codes = [report(cast, p[:100], description_text=p) for p in PAYLOADS]
    sign_in(page, cast.operator)
    page.goto("/console/queue/?size=100")
    listed = page.locator("#work-list").inner_text()
    assert PAYLOADS[0] in listed  # shown as the text it is
    assert page.evaluate(HANDLER_ATTRIBUTES) == 0
    shot(page, "payloads-queue")
    for code in codes:
        open_event(page, code)
        assert page.evaluate(HANDLER_ATTRIBUTES) == 0, code
    shot(page, "payloads-event")
    page.goto(f"/console/events/{codes[0]}/sheet/")
    assert PAYLOADS[0] in page.locator("body").inner_text()
    assert not dialogs, dialogs


def test_new_arrivals_appear_without_a_reload(page: Any, site: Site, cast: Cast) -> None:
    sign_in(page, cast.operator)
    page.goto("/console/queue/")
    page.click("#on-duty")  # the shift starts: urgent arrivals may now ring
    assert page.locator("#on-duty").get_attribute("aria-pressed") == "true"
    before = int(page.locator("[data-count=intake]").inner_text())
    code = report(cast, "紧急：路面塌陷", urgent=True)
    page.wait_for_selector(f"#work-list >> text={code}", timeout=30_000)  # polled every 10 s
    assert int(page.locator("[data-count=intake]").inner_text()) == before + 1
    assert "路面塌陷" in page.locator("#live-note").inner_text()
    shot(page, "live-arrival")
