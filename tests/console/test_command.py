"""The command views on the server side: the supervision board and the urge ladder, the map's
data, the leader wall's figures, the grid pages and worker assignment, and the Excel exports —
each in the caller's scope only, compared with the scoped query."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
import time_machine
from django.utils import timezone

from gridgov.accounts.models import Post
from gridgov.analytics import rollups
from gridgov.core.models import AuditLog, Outbox
from gridgov.core.scope import restrict
from gridgov.events import services
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Event, Urge
from gridgov.events.services import Input
from gridgov.events.states import OPEN

from .. import personas
from ..eventbuilder import in_state, new_event
from ..factories import user_with_post
from ..helpers import client, point_in

pytestmark = pytest.mark.django_db

XINHUA_GRID = "130105001001001"  # another county of the same city
OPEN_STATES = [s.value for s in OPEN]


def event_in(grid: str, **kw: Any) -> Event:
    lon, lat = point_in(grid)
    fields: dict[str, Any] = {"channel": "web", "title": "别处的事件", "description": "测试", **kw}
    return do_intake(Report(lon=lon, lat=lat, category="0202", **fields), str(uuid.uuid4())).event


def other_county_event() -> Event:
    from gridgov.regions.models import Grid

    grid = Grid.objects.filter(code__startswith="130105", effective_to=None).first()
    assert grid is not None
    return event_in(grid.code)


def sheet_codes(body: bytes) -> list[str]:
    ws = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    return [str(r[0]) for r in rows[1:]]


def exported(r: Any) -> bytes:
    assert r.status_code == 200, r.status_code
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    return b"".join(r.streaming_content)


# -- the urge ladder (催办 → 督办 → 挂牌督办) -----------------------------------------------


def test_an_urge_is_kept_against_the_assignee_and_tells_them() -> None:
    event = in_state("dispatched")
    before = set(Outbox.objects.values_list("pk", flat=True))
    event = services.act(
        event.pk,
        "supervise",
        personas.township_operator(),
        Input(reason="请尽快处置", level="remind"),
    )
    assert event.urge_level == "remind" and event.urge_count == 1 and event.state == "dispatched"
    urge = Urge.objects.get(event=event)
    assert urge.assignee_kind == event.assignee_kind and urge.assignee_grid == event.assignee_grid
    assert urge.note == "请尽快处置"
    told = Outbox.objects.exclude(pk__in=before)
    assert any(
        m.topic == "event.supervised" and m.recipient == f"grid:{event.assignee_grid}" for m in told
    )
    # a lower step later keeps the highest level reached
    event = services.act(
        event.pk, "supervise", personas.township_leader(), Input(reason="挂牌", level="listed")
    )
    event = services.act(
        event.pk, "supervise", personas.township_operator(), Input(reason="再催", level="remind")
    )
    assert event.urge_level == "listed" and event.urge_count == 3


def test_a_listed_supervision_is_for_leaders_only() -> None:
    event = in_state("in_progress")
    r = client(personas.township_operator()).post(
        f"/api/v1/events/{event.code}/supervise",
        {"reason": "挂牌督办", "level": "listed"},
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 422, r.content
    assert Event.objects.get(pk=event.pk).urge_count == 0
    assert not Urge.objects.filter(event=event).exists()
    offered = services.allowed_actions(event, personas.township_operator())
    levels = next(a for a in offered if a["action"] == "supervise")["inputs"]
    choices = {c["value"] for i in levels if i["name"] == "level" for c in i["choices"]}
    assert choices == {"remind", "formal"}


# -- the board ----------------------------------------------------------------------------


def test_the_board_counts_and_lists_only_the_callers_scope() -> None:
    here = in_state("dispatched")
    returned_twice = in_state("dispatched")
    leader, worker = personas.township_leader(), personas.grid_worker()
    for _ in range(2):
        returned_twice = services.act(returned_twice.pk, "return", worker, Input(reason="不归我管"))
        returned_twice = services.act(
            returned_twice.pk, "reject_return", leader, Input(reason="属于本网格")
        )
    services.act(
        here.pk, "supervise", personas.township_operator(), Input(reason="催办", level="formal")
    )
    elsewhere = other_county_event()
    c = client(personas.township_operator())
    page = c.get("/console/board/?tab=urged").content.decode()
    assert here.code in page and elsewhere.code not in page
    assert returned_twice.code in c.get("/console/board/?tab=pingpong").content.decode()
    # the figures come from the same scope: every region row lies in the caller's township
    r = c.get("/console/board/")
    board = r.context["board"]
    assert board["regions"] and all(row["code"].startswith("130104008") for row in board["regions"])
    totals = {key: n for key, _label, n in board["groups"]}
    assert (
        totals["urged"]
        == restrict(
            Event.objects.filter(state__in=OPEN_STATES).exclude(urge_level=""),
            personas.township_operator(),
            "list",
        ).count()
    )
    grid_row = next(u for u in board["units"] if u["kind"] == "grid")
    assert grid_row["urges"] >= 1


def test_the_board_is_for_centres_and_leaders() -> None:
    assert client(personas.grid_worker()).get("/console/board/").status_code == 302
    assert client(personas.department_handler()).get("/console/board/").status_code == 302
    assert client(personas.city_analyst()).get("/console/board/").status_code == 200


def test_overdue_events_are_on_the_board() -> None:
    event = in_state("dispatched")
    assert event.due_at is not None
    with time_machine.travel(event.due_at + timedelta(minutes=5), tick=False):
        page = (
            client(personas.township_operator()).get("/console/board/?tab=overdue").content.decode()
        )
    assert event.code in page


# -- the map ------------------------------------------------------------------------------


def test_the_map_holds_the_scope_and_the_filters() -> None:
    here, closed = new_event(), in_state("closed")
    elsewhere = other_county_event()
    c = client(personas.township_operator())
    codes = {e["code"] for e in c.get("/console/map/events.json").json()["events"]}
    assert here.code in codes and closed.code not in codes and elsewhere.code not in codes
    shown = c.get("/console/map/events.json?show=closed").json()["events"]
    assert {e["code"] for e in shown} >= {closed.code} and here.code not in {
        e["code"] for e in shown
    }
    county = client(personas.county_leader("130105")).get("/console/map/events.json").json()
    assert {e["code"] for e in county["events"]} == set(
        restrict(
            Event.objects.filter(state__in=OPEN_STATES), personas.county_leader("130105"), "map"
        ).values_list("code", flat=True)
    )
    assert here.code not in {e["code"] for e in county["events"]}


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=10,10,5,5",
        "bbox=0,0,500,1",
        "",
        "codes=123",
        "codes=" + ",".join(["130104008019008"] * 101),
    ],
)
def test_the_grid_layer_refuses_odd_bounds(query: str) -> None:
    r = client(personas.township_operator()).get(f"/console/map/grids.json?{query}")
    assert r.status_code == 400 and "errors" in r.json()


def test_the_grid_layer_shows_grids_in_scope_only() -> None:
    c = client(personas.township_operator())
    found = c.get("/console/map/grids.json?bbox=113,37,116,39").json()["grids"]
    assert found and all(g["code"].startswith("130104008") for g in found)
    other = c.get("/console/map/grids.json?codes=130105001001001").json()["grids"]
    assert other == []


# -- the wall -----------------------------------------------------------------------------


def test_the_wall_counts_the_scope_live_and_from_the_daily_figures() -> None:
    leader = personas.county_leader()
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=3), tick=False):
        old = in_state("closed")
        other_county_event()
    today = [new_event(), new_event(urgency="urgent")]
    other_county_event()
    rollups.rebuild(now=now)
    data = client(leader).get("/console/wall/data.json").json()
    scoped = restrict(Event.objects.all(), leader, "stats")
    start = rollups.day_start(rollups.local_day(now))
    assert data["kpi"]["today_reported"] == scoped.filter(reported_at__gte=start).count() >= 2
    assert data["kpi"]["open"] == scoped.filter(state__in=OPEN_STATES).count()
    month = rollups.day_start(rollups.local_day(now).replace(day=1))
    assert data["kpi"]["month_reported"] == scoped.filter(reported_at__gte=month).count()
    window = rollups.day_start(rollups.local_day(now) - timedelta(days=29))
    assert sum(data["trend"]["reported"]) == scoped.filter(reported_at__gte=window).count()
    assert sum(data["trend"]["closed"]) == scoped.filter(closed_at__gte=window).count() >= 1
    assert {r["code"] for r in data["by_region"]} <= {
        "130104" + c
        for c in (
            "008",
            "001",
            "002",
            "003",
            "004",
            "005",
            "006",
            "007",
            "009",
            "010",
            "011",
            "012",
            "013",
            "014",
            "015",
            "016",
            "017",
        )
    } | {r["code"] for r in data["by_region"] if r["code"].startswith("130104")}
    assert all(r["code"].startswith("130104") for r in data["by_region"])
    assert old.code and today


def test_the_wall_shows_no_personal_data() -> None:
    new_event(
        title="张三家门口堆放垃圾",
        reporter_name="张三",
        reporter_phone="13812345678",
        urgency="urgent",
    )
    body = client(personas.county_leader()).get("/console/wall/data.json").content.decode()
    for secret in ("张三", "13812345678", "堆放垃圾"):
        assert secret not in body


def test_the_wall_is_for_township_or_wider_reach() -> None:
    assert client(personas.grid_worker()).get("/console/wall/data.json").status_code == 403
    assert client(personas.department_handler()).get("/console/wall/").status_code == 403
    assert client(personas.city_analyst()).get("/console/wall/").status_code == 200


def test_the_daily_figures_are_rewritten_only_when_the_events_change() -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=1), tick=False):
        new_event()
    day = rollups.local_day(now - timedelta(days=1))
    assert rollups.refresh(day) >= 1
    assert rollups.refresh(day) == 0
    with time_machine.travel(now - timedelta(days=1), tick=False):
        new_event(channel="wechat")
    assert rollups.refresh(day) >= 1


# -- grids --------------------------------------------------------------------------------


def test_grids_are_searched_in_scope_and_foreign_grids_are_404() -> None:
    c = client(personas.township_operator())
    page = c.get("/console/grids/?q=130104008019").content.decode()
    assert "130104008019008" in page
    assert (
        "130105"
        not in c.get("/console/grids/?q=130105")
        .content.decode()
        .split("<tbody>")[1]
        .split("</tbody>")[0]
    )
    assert c.get("/console/grids/130105001001001/").status_code == 404
    assert c.get("/console/grids/130104008019008/").status_code == 200


def test_a_centre_leader_puts_a_worker_on_a_grid_audited() -> None:
    grid = personas.GRID8
    newcomer = user_with_post("grid_worker", "130104008019001")
    leader = personas.township_leader()
    r = client(leader).post(
        f"/console/grids/{grid}/assign/", {"username": newcomer.username, "role": "grid_worker"}
    )
    assert r.status_code == 302
    post = Post.objects.get(user=newcomer, scope_code=grid, active=True)
    row = AuditLog.objects.filter(action="post.assign").latest("seq")
    assert row.actor_id == leader.pk and row.detail["grid"] == grid
    assert newcomer.username in client(leader).get(f"/console/grids/{grid}/").content.decode()
    # the newcomer now sees the grid's events
    event = new_event()
    from gridgov.accounts.models import User

    fresh = User.objects.get(pk=newcomer.pk)
    assert restrict(Event.objects.filter(pk=event.pk), fresh, "view").exists()
    r = client(leader).post(f"/console/grids/{grid}/end/{post.pk}/")
    assert r.status_code == 302 and not Post.objects.get(pk=post.pk).active
    assert (
        AuditLog.objects.filter(action="post.end").latest("seq").detail["user"] == newcomer.username
    )


def test_only_a_leader_of_the_area_assigns() -> None:
    grid = personas.GRID8
    someone = user_with_post("grid_worker", "130104008019001")
    r = client(personas.township_operator()).post(
        f"/console/grids/{grid}/assign/", {"username": someone.username, "role": "grid_worker"}
    )
    assert r.status_code == 403
    r = client(personas.township_leader("130105001")).post(
        f"/console/grids/{grid}/assign/", {"username": someone.username, "role": "grid_worker"}
    )
    assert r.status_code == 404
    assert not Post.objects.filter(user=someone, scope_code=grid).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"username": "nobody-here", "role": "grid_worker"},
        {"username": "x", "role": "sys_admin"},
        {"username": "a\u202eb", "role": "grid_worker"},
        {"username": "x" * 500, "role": "grid_worker"},
        {},
    ],
)
def test_assigning_refuses_bad_input(data: dict[str, str]) -> None:
    r = client(personas.township_leader()).post(f"/console/grids/{personas.GRID8}/assign/", data)
    assert r.status_code == 422
    assert not AuditLog.objects.filter(action="post.assign").exists()


# -- exports ------------------------------------------------------------------------------


def test_an_export_holds_the_lists_rows_with_the_same_filters() -> None:
    events = [new_event(title=f"导出{i}") for i in range(3)] + [new_event(category="0101")]
    other_county_event()
    c = client(personas.township_operator())
    listed = c.get("/console/queue/?tab=intake&size=100").context["rows"]
    body = exported(c.get("/console/queue/?tab=intake&export=xlsx"))
    assert sheet_codes(body) == [r["code"] for r in listed]
    filtered_rows = c.get("/console/queue/?tab=intake&category=0202&size=100").context["rows"]
    body = exported(c.get("/console/queue/?tab=intake&category=0202&export=xlsx"))
    assert sheet_codes(body) == [r["code"] for r in filtered_rows]
    assert events[-1].code not in sheet_codes(body)
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    assert [c.value for c in ws[1]][:3] == ["案件编号", "标题", "类别"]
    row = AuditLog.objects.filter(action="event.export").latest("seq")
    assert row.detail["filters"] == {"tab": "intake", "category": "0202"}


def test_an_export_neutralises_formulas() -> None:
    event = new_event(title='=HYPERLINK("http://x")', address="@SUM(1)")
    body = exported(client(personas.township_operator()).get("/console/queue/?export=xlsx"))
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    row = next(r for r in ws.iter_rows(values_only=True) if r[0] == event.code)
    assert row[1].startswith("'=") and row[3].startswith("'@")


def test_board_and_grid_exports_hold_the_scope() -> None:
    mine = in_state("dispatched")
    services.act(
        mine.pk, "supervise", personas.township_operator(), Input(reason="催", level="remind")
    )
    c = client(personas.county_leader())
    codes = sheet_codes(exported(c.get("/console/board/?tab=urged&export=xlsx")))
    expected = restrict(
        Event.objects.filter(state__in=OPEN_STATES).exclude(urge_level=""),
        personas.county_leader(),
        "list",
    )
    assert set(codes) == set(expected.values_list("code", flat=True)) and mine.code in codes
    grid_codes = sheet_codes(exported(c.get(f"/console/grids/{personas.GRID8}/?export=xlsx")))
    assert mine.code in grid_codes
    elsewhere = client(personas.county_leader("130105"))
    assert mine.code not in sheet_codes(
        exported(elsewhere.get("/console/board/?tab=urged&export=xlsx"))
    )
    assert elsewhere.get(f"/console/grids/{personas.GRID8}/?export=xlsx").status_code == 404


def test_exports_are_rate_limited(settings: Any) -> None:
    settings.EXPORTS_PER_HOUR = 2
    c = client(personas.township_operator())
    assert c.get("/console/queue/?export=xlsx").status_code == 200
    assert c.get("/console/queue/?export=xlsx").status_code == 200
    r = c.get("/console/queue/?export=xlsx")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0


def test_assigning_twice_is_refused_and_ending_then_assigning_again_reactivates() -> None:
    grid, leader = personas.GRID8, personas.township_leader()
    worker = user_with_post("grid_worker", "130104008019001")
    c = client(leader)
    data = {"username": worker.username, "role": "grid_worker"}
    assert c.post(f"/console/grids/{grid}/assign/", data).status_code == 302
    assert c.post(f"/console/grids/{grid}/assign/", data).status_code == 422
    post = Post.objects.get(user=worker, scope_code=grid)
    assert c.post(f"/console/grids/{grid}/end/{post.pk}/").status_code == 302
    assert c.post(f"/console/grids/{grid}/end/{post.pk}/").status_code == 404
    assert c.post(f"/console/grids/{grid}/assign/", data).status_code == 302
    assert Post.objects.filter(user=worker, scope_code=grid).count() == 1
    assert Post.objects.get(pk=post.pk).active
    actions = list(
        AuditLog.objects.filter(action__startswith="post.", object_id=str(post.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["post.assign", "post.end", "post.assign"]


def test_escalated_events_are_on_the_board_but_urgent_intake_is_not() -> None:
    urgent = new_event(urgency="urgent")  # lands at the county centre by routing
    assert urgent.handling_level == "county" and urgent.escalation_count == 0
    event = in_state("registered")
    event = services.act(
        event.pk, "escalate", personas.township_operator(), Input(reason="需区级协调")
    )
    assert event.escalation_count == 1
    page = client(personas.county_operator()).get("/console/board/?tab=escalated").content.decode()
    assert event.code in page and urgent.code not in page


def test_the_ticker_keeps_the_last_two_days_and_the_command_rebuilds(settings: Any) -> None:
    from django.core.management import call_command

    from gridgov.analytics.models import DailyStat

    settings.STATS_REFRESH_SECONDS = 0
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=1), tick=False):
        new_event()
    with time_machine.travel(now - timedelta(days=5), tick=False):
        new_event()
    DailyStat.objects.all().delete()
    rollups.refresh_recent(now)
    days = set(DailyStat.objects.values_list("day", flat=True))
    assert rollups.local_day(now - timedelta(days=1)) in days
    assert rollups.local_day(now - timedelta(days=5)) not in days
    out = io.StringIO()
    call_command("stats", "--since", (now - timedelta(days=6)).date().isoformat(), stdout=out)
    assert rollups.local_day(now - timedelta(days=5)) in set(
        DailyStat.objects.values_list("day", flat=True)
    )
    assert "rows written" in out.getvalue()


def test_maps_have_no_basemap_unless_one_is_configured(settings: Any) -> None:
    c = client(personas.township_operator())
    r = c.get("/console/map/")
    assert r.context["tiles"] == {"url": "", "attribution": ""}
    assert "img-src 'self' data: blob:;" in r["Content-Security-Policy"]
    settings.MAP_TILES_URL = "https://t{s}.tiles.example.internal/{z}/{x}/{y}.png?tk=KEY"
    settings.MAP_TILES_ATTRIBUTION = "天地图 审图号：GS(2024)0650号"
    r = c.get("/console/map/")
    assert "审图号：GS(2024)0650号" in r.content.decode()  # in the page's tile settings
    assert (
        "img-src 'self' data: blob: https://t*.tiles.example.internal;"
        in r["Content-Security-Policy"]
    )
    settings.MAP_TILES_URL = "https://evil.example; script-src *"
    assert "script-src 'self'" in c.get("/console/map/")["Content-Security-Policy"]
    assert "evil" not in c.get("/console/map/")["Content-Security-Policy"]
