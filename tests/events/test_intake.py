"""Intake: field-level validation, idempotency, routing, deadlines, duplicate suggestions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from gridgov.accounts.models import User
from gridgov.core.models import Outbox
from gridgov.events.intake import Report, do_intake
from gridgov.events.models import Category, Event, IntakeConfig
from gridgov.geo.crs import from_wgs84

from .. import personas
from ..eventbuilder import GRID8, new_event
from ..helpers import client, ok, point_in, report

pytestmark = pytest.mark.django_db


def body(**kw: object) -> dict[str, object]:
    lon, lat = point_in(GRID8)
    return {
        "client_id": str(uuid.uuid4()),
        "channel": "web",
        "title": "井盖丢失",
        "description": "路口井盖丢失",
        "lon": lon,
        "lat": lat,
        "category": "0401",
        **kw,
    }


def post(data: dict[str, object], user: User | None = None, **headers: str):  # type: ignore[no-untyped-def]
    return client(user or personas.township_operator()).post(
        "/api/v1/events", data, content_type="application/json", **headers
    )


def test_bad_input_gets_field_level_422_and_nothing_is_written() -> None:
    before = Event.objects.count()
    r = post(body(title="", lon=500, crs="utm", urgency="now", channel="fax"))
    assert r.status_code == 422
    fields = {e["loc"][-1] for e in r.json()["detail"]}
    assert {"title", "lon", "crs", "urgency", "channel"} <= fields
    r = post(body(category="9999"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "category"]
    r = post(body(client_id="short"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "client_id"
    r = post(body(lon=116.397, lat=39.909))  # Beijing: far outside every grid
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "location"]
    assert Event.objects.count() == before


def test_replay_gives_the_same_answer_and_a_changed_body_conflicts() -> None:
    data = body()
    first = ok(post(data), 201)
    for _ in range(3):
        assert ok(post(data), 201) == first
    assert Event.objects.filter(client_id=data["client_id"]).count() == 1
    changed = post({**data, "description": "另一件事"})
    assert changed.status_code == 409
    assert changed.json()["detail"][0]["loc"] == ["body", "client_id"]


def test_idempotency_key_header_works_like_client_id() -> None:
    data = body()
    key = str(data.pop("client_id"))
    first = ok(post(data, HTTP_IDEMPOTENCY_KEY=key), 201)
    assert ok(post(data, HTTP_IDEMPOTENCY_KEY=key), 201)["id"] == first["id"]


def test_routing_to_the_township_centre_and_its_first_deadline() -> None:
    receipt = ok(post(body()), 201)
    event = Event.objects.get(code=receipt["code"])
    assert event.grid_code == GRID8 and event.receiving_centre.code == "C130104008"
    assert event.state == "reported" and event.step == "accept"
    assert (event.due_at - event.reported_at) == timedelta(minutes=30)  # type: ignore[operator]
    assert Outbox.objects.filter(recipient="unit:C130104008", topic="event.new").exists()


def test_urgent_goes_to_the_township_when_the_county_says_so() -> None:
    IntakeConfig.objects.create(county_id="130104", urgent_to_county=False)
    event = Event.objects.get(code=ok(post(body(urgency="urgent")), 201)["code"])
    assert event.receiving_centre.code == "C130104008" and event.handling_level == "township"


def test_gcj02_location_is_converted_before_routing() -> None:
    lon, lat = point_in(GRID8)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    event = Event.objects.get(code=ok(post(body(lon=glon, lat=glat, crs="gcj02")), 201)["code"])
    assert event.grid_code == GRID8
    assert abs(event.lon - lon) < 1e-8 and event.orig_crs == "gcj02" and event.orig_lon == glon


def test_department_routing_prefers_the_local_branch_and_falls_back_to_the_township() -> None:
    from gridgov.events import services
    from gridgov.orgs.models import Function, OrgUnit

    from ..eventbuilder import op

    branch = OrgUnit.objects.create(
        code="D130104-01",
        name="桥西区城市管理局",
        kind="department",
        level="county",
        region_id="130104",
        function=Function.objects.get(name="城市管理局"),
    )
    e = new_event(category="0101")  # exposed rubbish → 城市管理局
    services.act(e.pk, "accept", op())
    assert services.act(e.pk, "dispatch", op()).assignee_unit == branch
    # a category whose department does not exist here falls to the township centre (属地兜底)
    Category.objects.filter(code="0404").update(function=Function.objects.create(name="不存在的局"))
    e = new_event(category="0404")
    services.act(e.pk, "accept", op())
    assert services.act(e.pk, "dispatch", op()).assignee_unit.code == "C130104008"  # type: ignore[union-attr]


def test_duplicates_within_50_m_and_24_h_are_suggested() -> None:
    first = new_event(category="0202")
    second = new_event(category="0202")
    other_category = new_event(category="0101")
    assert first.code in second.duplicate_candidates
    assert first.code not in other_category.duplicate_candidates


def test_fix_on_the_spot_enters_awaiting_check_and_needs_photos() -> None:
    lon, lat = point_in(GRID8)
    gw = client(personas.grid_worker())
    data = {
        "client_id": str(uuid.uuid4()),
        "channel": "app",
        "title": "路边摊",
        "lon": lon,
        "lat": lat,
        "description": "当场劝离",
        "category": "0201",
        "resolved_on_spot": True,
    }
    r = gw.post("/api/v1/events", data, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "attachments"]
    from .test_attachments import jpeg_bytes, upload

    photos = [upload(gw, jpeg_bytes())["id"] for _ in range(2)]
    receipt = ok(
        gw.post("/api/v1/events", {**data, "attachments": photos}, content_type="application/json"),
        201,
    )
    event = Event.objects.get(code=receipt["code"])
    assert event.state == "awaiting_check" and event.resolved_on_spot
    assert event.attachments.count() == 2
    # an operator may not claim a fix on the spot
    r = client(personas.township_operator()).post(
        "/api/v1/events", {**data, "client_id": str(uuid.uuid4())}, content_type="application/json"
    )
    assert r.status_code == 403


def test_intake_service_is_the_same_for_every_channel() -> None:
    lon, lat = point_in(GRID8)
    for channel in ("web", "wechat", "open311", "app", "phone"):
        intake = do_intake(
            Report(channel=channel, title="t", description="d", lon=lon, lat=lat),
            f"channel-test-{channel}",
        )
        event = intake.event
        assert intake.created and event.channel == channel and event.grid_code == GRID8


def test_anonymous_intake_is_refused() -> None:
    from django.test import Client

    assert (
        Client().post("/api/v1/events", body(), content_type="application/json").status_code == 401
    )


def test_reporter_can_withdraw_before_registration_only() -> None:
    from django.test import Client

    receipt = ok(report(client(personas.township_operator()), GRID8), 201)
    url = f"/api/v1/public/events/{receipt['code']}/cancel"
    anon = Client()
    assert (
        anon.post(url, {"reporter_secret": "wrong"}, content_type="application/json").status_code
        == 404
    )
    r = anon.post(
        url, {"reporter_secret": receipt["reporter_secret"]}, content_type="application/json"
    )
    assert ok(r)["state"] == "cancelled"
    again = anon.post(
        url, {"reporter_secret": receipt["reporter_secret"]}, content_type="application/json"
    )
    assert again.status_code == 409


def test_every_department_category_goes_to_its_department_by_default() -> None:
    """Accept, then dispatch with no target: the category's department receives the work —
    for every department category of the demo city (none falls to the township centre)."""
    from gridgov.events import services

    from ..eventbuilder import op

    departmental = Category.objects.filter(
        handler_kind=Category.HandlerKind.DEPARTMENT, parent__isnull=False, active=True
    ).select_related("function")
    assert departmental.count() >= 40
    for category in departmental:
        event = new_event(category=category.code)
        services.do_accept(event, actor=op())
        done = services.do_dispatch(event.pk, actor=op())
        unit = done.assignee_unit
        assert unit is not None and unit.kind == "department", category.code
        assert unit.function_id == category.function_id, (category.code, unit.name)
