"""Hostile probes of the command views (board, map, wall, grids, exports) and the urge ladder:
odd input answers a clear 4xx, never a 500; nothing reaches outside the caller's scope; the
wall carries no personal data; pages and sheets neutralise what reporters typed."""

from __future__ import annotations

import io
import uuid
from typing import Any

import openpyxl
import pytest
from django.test import Client

from gridgov.accounts.models import Post, User
from gridgov.core.errors import ServiceError
from gridgov.core.models import AuditLog
from gridgov.events import services
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Event, Urge
from gridgov.events.services import Input
from gridgov.orgs.models import OrgUnit
from gridgov.regions.models import Grid

from .. import personas
from ..eventbuilder import in_state, new_event
from ..factories import user_with_post
from ..helpers import client, point_in

pytestmark = pytest.mark.django_db

GRID8 = personas.GRID8
EVIL = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


def event_in(grid: str, **kw: Any) -> Event:
    lon, lat = point_in(grid)
    fields: dict[str, Any] = {"channel": "web", "title": "别处的事件", "description": "测试", **kw}
    return do_intake(Report(lon=lon, lat=lat, category="0202", **fields), str(uuid.uuid4())).event


def grid_under(prefix: str, exclude: str = "") -> str:
    qs = Grid.objects.filter(code__startswith=prefix, effective_to=None)
    if exclude:
        qs = qs.exclude(code__startswith=exclude)
    grid = qs.order_by("code").first()
    assert grid is not None
    return grid.code


def body_of(r: Any) -> bytes:
    return b"".join(r.streaming_content) if r.streaming else bytes(r.content)


def is_xlsx(r: Any) -> bool:
    return str(r.get("Content-Type", "")).startswith("application/vnd.openxmlformats")


def sheet_rows(r: Any) -> list[tuple[Any, ...]]:
    assert r.status_code == 200 and is_xlsx(r), r.status_code
    ws = openpyxl.load_workbook(io.BytesIO(body_of(r))).active
    return list(ws.iter_rows(values_only=True))


def supervise(who: User, event: Event, **body: Any) -> Any:
    return client(who).post(
        f"/api/v1/events/{event.code}/supervise",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


# -- odd input: a clear 400, never a 500 ----------------------------------------------------

FILTERED = ["/console/board/", "/console/map/", "/console/map/events.json", "/console/queue/"]
ODD = [
    "q=" + "x" * 5000,
    "q=a%00b",
    "q=%E2%80%AEabc",
    "page=-1",
    "page=0",
    "page=999999999999999999999999",
    "page=1e3",
    "size=100000",
    "since=0001-01-01",
    "since=9999-12-31",
    "since=2020-02-30",
    "until=1999-12-31",
    "under=1",
    "under=%00",
    "channel=x",
    "tab=" + "t" * 100,
]


@pytest.mark.parametrize("url", FILTERED)
@pytest.mark.parametrize("query", ODD)
def test_odd_filters_are_refused_with_400(url: str, query: str) -> None:
    r = client(personas.township_operator()).get(f"{url}?{query}")
    assert r.status_code == 400, r.status_code
    if url.endswith(".json"):
        assert r.json()["errors"]


@pytest.mark.parametrize(
    "query",
    [
        "q=%27%20OR%201%3D1%20--",
        "q=a&q=b&q=c",
        "urgency[]=urgent",
        "since=2099-12-31&until=2000-01-01",
        "under=999999999999999",
        "overdue=maybe",
        "page=10000&size=100",
    ],
)
@pytest.mark.parametrize("url", [*FILTERED, "/console/grids/", f"/console/grids/{GRID8}/"])
def test_strange_but_valid_filters_answer_without_error(url: str, query: str) -> None:
    new_event()
    assert client(personas.township_operator()).get(f"{url}?{query}").status_code == 200


@pytest.mark.parametrize(
    "query", ["q=" + "x" * 51, "q=a%E2%80%8Bb", "page=0", "page=-5", "page=" + "9" * 30]
)
def test_odd_grid_searches_are_refused(query: str) -> None:
    assert client(personas.township_operator()).get(f"/console/grids/?{query}").status_code == 400


@pytest.mark.parametrize(
    "bbox", ["nan,nan,nan,nan", "-inf,-90,inf,90", "1,2,3,4,5", "0x1,2,3,4", "1e2,1,1e3,2", EVIL]
)
def test_odd_bounds_are_refused(bbox: str) -> None:
    r = client(personas.township_operator()).get("/console/map/grids.json", {"bbox": bbox})
    assert r.status_code == 400 and r.json()["errors"]


def test_odd_filters_on_a_grid_page_are_refused_not_dropped() -> None:
    """A grid page (and its export) with a filter it cannot read must say so, as the board and
    the queue do, rather than silently show or export the whole unfiltered list."""
    new_event(category="0101")
    c = client(personas.township_operator())
    assert c.get(f"/console/grids/{GRID8}/?category=zz").status_code == 400
    r = c.get(f"/console/grids/{GRID8}/?category=zz&export=xlsx")
    assert r.status_code == 400 and not is_xlsx(r)
    assert not AuditLog.objects.filter(action="event.export").exists()


@pytest.mark.parametrize("tail", ["0", "xyz", "%20", "%00", "130104008019008"])
def test_a_grid_url_holds_exactly_a_grid_code(tail: str) -> None:
    """/console/grids/<code>/ must name a grid; a longer string is not that grid."""
    c = client(personas.township_leader())
    assert c.get(f"/console/grids/{GRID8}{tail}/").status_code == 404
    post = Post.objects.get(user=personas.grid_worker())
    assert c.post(f"/console/grids/{GRID8}{tail}/end/{post.pk}/").status_code == 404
    assert Post.objects.get(pk=post.pk).active


# -- scope -------------------------------------------------------------------------------


def test_a_township_operator_reaches_nothing_of_another_township_or_county() -> None:
    mine = in_state("dispatched")
    services.act(
        mine.pk, "supervise", personas.township_operator(), Input(reason="催", level="formal")
    )
    other_township = grid_under("130104", exclude="130104008")
    other_county = grid_under("130105")
    foreign = [event_in(other_township), event_in(other_county)]
    for e in foreign:
        services.act(e.pk, "accept", personas.county_operator(e.grid_code[:6]), Input())
        services.act(
            e.pk,
            "supervise",
            personas.county_operator(e.grid_code[:6]),
            Input(reason="催", level="remind"),
        )
    c = client(personas.township_operator())
    seen = [
        "/console/board/?tab=urged",
        f"/console/board/?tab=urged&under={other_township[:9]}",
        "/console/board/?tab=urged&export=xlsx",
        "/console/map/events.json?show=all",
        f"/console/map/events.json?show=all&under={other_county}",
        "/console/queue/?tab=all&export=xlsx",
        f"/console/grids/?q={other_county[:6]}",
        "/console/wall/data.json",
    ]
    for url in seen:
        r = c.get(url)
        assert r.status_code == 200, url
        body = body_of(r)
        for e in foreign:
            assert e.code.encode() not in body, url
    assert mine.code in c.get("/console/board/?tab=urged").content.decode()
    for grid in (other_township, other_county):
        assert c.get(f"/console/grids/{grid}/").status_code == 404
        assert c.get(f"/console/grids/{grid}/?tab=history&export=xlsx").status_code == 404
    got = c.get(f"/console/map/grids.json?codes={other_township},{other_county}").json()
    assert got["grids"] == []
    everywhere = c.get("/console/map/grids.json?bbox=-180,-90,180,90").json()["grids"]
    assert everywhere and all(g["code"].startswith("130104008") for g in everywhere)
    board = c.get("/console/board/").context["board"]
    assert all(row["code"].startswith("130104008") for row in board["regions"])


@pytest.mark.parametrize("who", ["grid_worker", "grid_leader", "department_handler", "mediator"])
def test_field_and_department_people_get_no_board_no_wall_and_no_board_export(who: str) -> None:
    new_event()
    c = client(getattr(personas, who)())
    for url in ["/console/board/", "/console/board/?tab=overdue&export=xlsx"]:
        r = c.get(url)
        assert r.status_code in (302, 403) and not is_xlsx(r), url
    assert c.get("/console/wall/").status_code == 403
    assert c.get("/console/wall/data.json").status_code == 403
    r = c.get("/console/queue/?export=xlsx")
    assert r.status_code in (302, 403) and not is_xlsx(r)


def test_a_person_without_an_active_post_sees_no_grid_and_no_event() -> None:
    new_event()
    who = user_with_post("grid_worker", GRID8)
    Post.objects.filter(user=who).update(active=False)
    c = client(who)
    assert c.get(f"/console/grids/{GRID8}/").status_code == 404
    assert c.get(f"/console/grids/{GRID8}/?export=xlsx").status_code == 404
    assert c.get("/console/map/events.json?show=all").json()["events"] == []
    assert c.get("/console/map/grids.json?bbox=-180,-90,180,90").json()["grids"] == []


def test_signed_out_callers_are_sent_to_sign_in() -> None:
    post = Post.objects.get(user=personas.grid_worker())
    anon = Client()
    for url in ["/console/board/", "/console/wall/data.json", "/console/map/events.json"]:
        assert anon.get(url).status_code == 302
    assert anon.post(f"/console/grids/{GRID8}/end/{post.pk}/").status_code == 302
    assert Post.objects.get(pk=post.pk).active


# -- grid posts --------------------------------------------------------------------------


def test_a_post_of_another_grid_cannot_be_ended_through_ones_own_grid() -> None:
    leader = personas.township_leader()
    next_door = Post.objects.get(user=user_with_post("grid_worker", "130104008019001"))
    far = Post.objects.get(user=user_with_post("grid_worker", grid_under("130105")))
    c = client(leader)
    for post in (next_door, far):
        assert c.post(f"/console/grids/{GRID8}/end/{post.pk}/").status_code == 404
    assert c.post(f"/console/grids/{far.scope_code}/end/{far.pk}/").status_code == 404
    for big in ("99999999999999999999999", str(2**63)):
        assert c.post(f"/console/grids/{GRID8}/end/{big}/").status_code == 404
    assert Post.objects.get(pk=next_door.pk).active and Post.objects.get(pk=far.pk).active
    assert not AuditLog.objects.filter(action="post.end").exists()


def test_only_a_leader_of_the_grid_ends_its_posts() -> None:
    post = Post.objects.get(user=personas.grid_worker())
    url = f"/console/grids/{GRID8}/end/{post.pk}/"
    assert client(personas.township_operator()).post(url).status_code == 403
    assert client(personas.township_leader("130104001")).post(url).status_code == 404
    assert client(personas.county_leader("130105")).post(url).status_code == 404
    assert client(personas.grid_worker()).post(url).status_code == 403
    assert Post.objects.get(pk=post.pk).active


def test_post_only_routes_refuse_get_and_csrf_less_posts() -> None:
    leader = personas.township_leader()
    post = Post.objects.get(user=personas.grid_worker())
    someone = user_with_post("grid_worker", "130104008019001")
    c = client(leader)
    assign, end = f"/console/grids/{GRID8}/assign/", f"/console/grids/{GRID8}/end/{post.pk}/"
    assert c.get(assign).status_code == 405 and c.get(end).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(leader)
    r = strict.post(assign, {"username": someone.username, "role": "grid_worker"})
    assert r.status_code == 403
    assert strict.post(end).status_code == 403
    assert Post.objects.get(pk=post.pk).active
    assert not Post.objects.filter(user=someone, scope_code=GRID8).exists()


def test_get_only_routes_refuse_other_methods() -> None:
    c = client(personas.township_leader())
    for url in [
        "/console/board/",
        "/console/map/events.json",
        "/console/map/grids.json?bbox=1,2,3,4",
        "/console/wall/data.json",
        f"/console/grids/{GRID8}/",
        "/console/queue/?export=xlsx",
    ]:
        assert c.post(url).status_code == 405, url
        assert c.delete(url).status_code == 405, url


@pytest.mark.parametrize(
    "data",
    [
        {"username": ["a", "b"], "role": "grid_worker"},
        {"username": "x\x00y", "role": "grid_worker"},
        {"username": EVIL, "role": "grid_worker"},
        {"username": "x", "role": ["grid_worker", "sys_admin"]},
    ],
)
def test_assigning_refuses_hostile_input_without_echoing_markup(data: dict[str, Any]) -> None:
    r = client(personas.township_leader()).post(f"/console/grids/{GRID8}/assign/", data)
    assert r.status_code == 422
    assert b"<script>alert" not in r.content and b"<img src=x" not in r.content
    assert not AuditLog.objects.filter(action="post.assign").exists()


def test_a_township_leader_cannot_take_the_wall_from_a_city_leader() -> None:
    """Putting an account on a grid must not cost that account what its own posts give: a
    township leader could otherwise shut a city leader out of the wall (a grid post makes
    the statistics reach unsayable in townships)."""
    boss = personas.city_analyst()
    assert client(boss).get("/console/wall/data.json").status_code == 200
    client(personas.township_leader()).post(
        f"/console/grids/{GRID8}/assign/", {"username": boss.username, "role": "grid_worker"}
    )
    boss = User.objects.get(pk=boss.pk)
    assert client(boss).get("/console/wall/data.json").status_code == 200


# -- XSS and personal data ----------------------------------------------------------------


def test_markup_in_grid_names_titles_and_filters_is_escaped_on_pages() -> None:
    Grid.objects.filter(code=GRID8, effective_to=None).update(name=EVIL)
    event = in_state("dispatched", title=EVIL[:100], address=EVIL)
    services.act(event.pk, "supervise", personas.township_operator(), Input(reason=EVIL))
    c = client(personas.township_leader())
    for url in [
        "/console/board/?tab=urged",
        f"/console/grids/{GRID8}/",
        "/console/grids/?q=130104008019",
        "/console/map/",
        "/console/queue/?tab=all",
    ]:
        r = c.get(url)
        assert r.status_code == 200, url
        assert b"<script>alert" not in r.content and b"<img src=x" not in r.content, url
    for url in [f"/console/map/?q={EVIL[:40]}", f"/console/grids/?q={EVIL[:40]}"]:
        r = c.get(url)
        assert b"<script>alert" not in r.content and b"<img src=x" not in r.content, url
    for url in ["/console/map/events.json", f"/console/map/grids.json?codes={GRID8}"]:
        r = c.get(url)
        assert r["Content-Type"] == "application/json" and r["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("who", ["township_operator", "county_leader", "city_analyst"])
def test_the_wall_carries_no_personal_data(who: str) -> None:
    event = new_event(
        title="李四家门前",
        reporter_name="李四",
        reporter_phone="13912345678",
        address="幸福路8号3单元",
        urgency="urgent",
    )
    r = client(getattr(personas, who)()).get("/console/wall/data.json")
    assert r.status_code == 200
    body = r.content.decode()
    for secret in ("李四", "13912345678", "1391234", "幸福路", "门前", event.code, str(event.pk)):
        assert secret not in body
    assert all(set(u) == {"category", "region", "at", "state"} for u in r.json()["urgent"])


def test_exports_neutralise_formulas_and_mask_the_reporter() -> None:
    starts = ["=1+1", "+1", "-1", "@SUM(1)", "\t=1", "\r=1"]
    made = {
        new_event(
            title=f"事件{i}", address=s, reporter_name=f"{s}王五", reporter_phone="13812345678"
        ).code: s
        for i, s in enumerate(starts)
    }
    rows = sheet_rows(client(personas.township_operator()).get("/console/queue/?export=xlsx"))
    found = {r[0]: r for r in rows[1:] if r[0] in made}
    assert set(found) == set(made)
    for row in found.values():
        for cell in row:
            if isinstance(cell, str):
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
        assert "13812345678" not in str(row) and "王五" not in str(row)


def test_a_hostile_grid_name_still_gives_a_sheet_excel_opens() -> None:
    Grid.objects.filter(code=GRID8, effective_to=None).update(name="=cmd|'/c calc'!A0[]*?:\x01")
    new_event()
    r = client(personas.township_leader()).get(f"/console/grids/{GRID8}/?export=xlsx")
    assert "\n" not in r["Content-Disposition"] and "\r" not in r["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(body_of(r)))
    title = wb.sheetnames[0]
    assert not set(title) & set("[]*?:/\\\x01") and len(title) <= 31


# -- the urge ladder over the API ----------------------------------------------------------


def test_the_api_takes_the_ladders_levels() -> None:
    """POST /api/v1/events/<code>/supervise {"level": "remind"|"formal"|"listed"}: the levels
    the rule table offers must be the ones the API accepts."""
    event = in_state("dispatched")
    r = supervise(personas.township_operator(), event, reason="催办", level="remind")
    assert r.status_code == 200, r.content
    r = supervise(personas.township_operator(), event, reason="督办", level="formal")
    assert r.status_code == 200, r.content
    r = supervise(personas.township_leader(), event, reason="挂牌督办", level="listed")
    assert r.status_code == 200, r.content
    event.refresh_from_db()
    assert event.urge_level == "listed" and event.urge_count >= 2


def test_the_api_refuses_hostile_supervision() -> None:
    event = in_state("dispatched")
    op = personas.township_operator()
    for body in [
        {"reason": "催", "level": ["remind"]},
        {"reason": "催", "level": {"$ne": 1}},
        {"reason": "催", "level": "yellow"},
        {"reason": "x" * 5000},
        {"reason": "a\u202eb"},
        {"reason": "a\x00b"},
        {"reason": "   "},
        {"reason": 12345},
    ]:
        assert supervise(op, event, **body).status_code == 422, body
    c = client(op)
    for key in ["k" * 5000, "abc\x01defghijkl", "短"]:
        r = c.post(
            f"/api/v1/events/{event.code}/supervise",
            {"reason": "催"},
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )
        assert r.status_code == 422, key
    assert supervise(personas.grid_worker(), event, reason="催").status_code == 403
    assert supervise(personas.department_handler(), event, reason="催").status_code == 404
    assert supervise(personas.township_operator("130104001"), event, reason="催").status_code == 404
    assert supervise(personas.county_leader("130105"), event, reason="催").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(op)
    r = strict.post(
        f"/api/v1/events/{event.code}/supervise",
        {"reason": "催"},
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 403
    closed = in_state("closed")
    assert supervise(op, closed, reason="催").status_code == 409
    event.refresh_from_db()
    assert event.urge_count == 0 and not Urge.objects.exists()


def _levels_offered(event: Event, user: User) -> set[str]:
    offered = services.allowed_actions(event, user)
    inputs = next(a for a in offered if a["action"] == "supervise")["inputs"]
    return {c["value"] for i in inputs if i["name"] == "level" for c in i["choices"] or []}


@pytest.mark.parametrize("leader_scope", ["130104", "130105001"])
def test_a_listed_supervision_is_offered_exactly_when_it_is_accepted(leader_scope: str) -> None:
    """An operator of Hongqi who also leads a centre (their own county's, or another county's
    township): the page must not offer 挂牌督办 the engine then refuses, nor refuse it to a
    leader whose post covers the event."""
    user = user_with_post("operator", personas.HONGQI)
    Post.objects.create(
        user=user,
        org_unit=OrgUnit.objects.get(code=f"C{leader_scope}"),
        role="centre_leader",
        scope_code=leader_scope,
    )
    user = User.objects.get(pk=user.pk)
    event = in_state("dispatched")
    offered = "listed" in _levels_offered(event, user)
    try:
        services.act(event.pk, "supervise", user, Input(reason="挂牌", level="listed"))
        accepted = True
    except ServiceError:
        accepted = False
    assert offered == accepted
    assert accepted == (leader_scope == "130104")
