"""POST requests: real reports through the one intake, keys, idempotency, limits, hostile input."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from gridgov.channels.open311 import services
from gridgov.channels.open311.models import ServiceRequest
from gridgov.core.models import AuditLog
from gridgov.events.models import Event

from ...helpers import client as signed_in
from ...personas import township_operator
from .helpers import BASE, GRID8, filed, form, new_key, post_form, spec_error, xml

pytestmark = pytest.mark.django_db


def test_a_request_is_a_real_report_routed_to_a_grid_and_seen_by_the_centre() -> None:
    c, key = Client(), new_key("cityapp")
    answer = filed(c, key)
    assert set(answer) == {"service_request_id", "token", "service_notice", "account_id"}
    assert answer["account_id"] is None and "红旗街道综治中心" in answer["service_notice"]
    e = Event.objects.get(code=answer["service_request_id"])
    assert (e.channel, e.grid_code, e.state, e.category.code) == (
        "open311",
        GRID8,
        "reported",
        "0201",
    )
    assert e.reported_by is None and e.timeline.get(seq=1).actor_id is None
    assert (e.reporter_name, e.reporter_phone) == ("王小明", "13912345678")
    assert e.title == "占道经营：路口有人占道经营，堵住了人行道" and e.address == "汇文街 12 号门口"
    assert ServiceRequest.objects.get(event=e).client == "cityapp"
    # the township's operator finds it in the console's list, like any report
    listed = signed_in(township_operator()).get("/api/v1/events", {"state": "reported"})
    assert e.code in [row["code"] for row in listed.json()["items"]]
    token = c.get(f"{BASE}/tokens/{answer['token']}.json").json()
    assert token == [{"service_request_id": e.code, "token": answer["token"]}]


def test_the_answer_in_xml() -> None:
    r = post_form(Client(), form(new_key()), fmt="xml")
    assert r.status_code == 201
    root = xml(r.content)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    assert [c.tag for c in root[0]] == [
        "service_request_id",
        "token",
        "service_notice",
        "account_id",
    ]
    token = root[0].findtext("token")
    r = Client().get(f"{BASE}/tokens/{token}.xml")
    assert xml(r.content).findtext("request/service_request_id") == root[0].findtext(
        "service_request_id"
    )


def test_an_unknown_token_is_404() -> None:
    assert spec_error(Client().get(f"{BASE}/tokens/nope-nope.json"), 404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_missing_or_unknown_service_code_is_400(fmt: str) -> None:
    c, key = Client(), new_key()
    assert "service_code" in spec_error(post_form(c, form(key, service_code=None), fmt), 400)
    assert "service_code" in spec_error(post_form(c, form(key, service_code="9999"), fmt), 400)
    # a sensitive category is not a service a third party's app may file
    assert "service_code" in spec_error(post_form(c, form(key, service_code="0801"), fmt), 400)
    assert not Event.objects.filter(channel="open311").exists()


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        ("nan", None),
        ("inf", None),
        ("-Infinity", None),
        ("3.8e1", None),
        ("0x26", None),
        ("38_0", None),
        ("38,04", None),
        ("91", None),
        ("-90.5", None),
        (None, "180.01"),
        (None, "abc"),
        ("", None),
        (None, ""),
        ("1" * 40, None),
    ],
)
def test_bad_coordinates_are_400(lat: str | None, lon: str | None) -> None:
    c, key = Client(), new_key()
    data = form(key)
    if lat is not None:
        data["lat"] = lat
    if lon is not None:
        data["long"] = lon
    assert spec_error(post_form(c, data), 400)
    assert not Event.objects.filter(channel="open311").exists()


def test_a_place_outside_the_city_is_400() -> None:
    r = post_form(Client(), form(new_key(), lat="31.2304", long="121.4737"))  # Shanghai
    assert "outside every grid" in spec_error(r, 400)


def test_an_address_alone_cannot_be_geocoded() -> None:
    data = form(new_key(), lat=None, long=None, address_string="中山路 1 号")
    assert "lat and long" in spec_error(post_form(Client(), data), 400)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_missing_wrong_or_revoked_key_is_403(fmt: str) -> None:
    c, key = Client(), new_key("acme")
    assert spec_error(post_form(c, form(key, api_key=None), fmt), 403)
    assert spec_error(post_form(c, form(key + "x"), fmt), 403)
    assert spec_error(post_form(c, form("o311_" + "A" * 32), fmt), 403)
    assert services.do_revoke("acme") == 1
    assert spec_error(post_form(c, form(key), fmt), 403)
    assert not Event.objects.filter(channel="open311").exists()


def test_a_replayed_post_makes_one_report_with_the_same_answer() -> None:
    c, key = Client(), new_key()
    data = form(key)
    first, second = post_form(c, data), post_form(c, data)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Event.objects.filter(channel="open311").count() == 1
    # the order of the fields does not matter
    third = post_form(c, dict(reversed(list(data.items()))))
    assert third.json() == first.json()


def test_two_clients_sending_the_same_body_make_two_reports() -> None:
    c = Client()
    a, b = filed(c, new_key("a-app")), filed(c, new_key("b-app"))
    assert a["service_request_id"] != b["service_request_id"]


def test_an_identical_post_two_windows_later_is_a_new_report(settings: Any) -> None:
    settings.OPEN311_REPLAY_WINDOW = 3600
    c, key = Client(), new_key()
    data = form(key)
    first = post_form(c, data).json()[0]
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        assert post_form(c, data).json()[0] == first  # a retry within the window
    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=1)):
        later = post_form(c, data).json()[0]
    assert later["service_request_id"] != first["service_request_id"]


def test_the_idempotency_key_header_wins_over_the_body() -> None:
    c, key = Client(), new_key()
    data = form(key)
    one = post_form(c, data, HTTP_IDEMPOTENCY_KEY="0f9c1e7a-req-1").json()[0]
    two = post_form(c, data, HTTP_IDEMPOTENCY_KEY="0f9c1e7a-req-2").json()[0]
    assert one["service_request_id"] != two["service_request_id"]
    again = post_form(c, data, HTTP_IDEMPOTENCY_KEY="0f9c1e7a-req-1").json()[0]
    assert again == one
    changed = post_form(c, form(key, description="别的"), HTTP_IDEMPOTENCY_KEY="0f9c1e7a-req-1")
    assert "different request" in spec_error(changed, 409)
    assert "Idempotency-Key" in spec_error(post_form(c, data, HTTP_IDEMPOTENCY_KEY="short"), 400)


def test_attributes_are_checked_and_reach_the_operator() -> None:
    c, key = Client(), new_key()
    base = form(key, service_code="0404", description="水管爆了")
    assert "attribute[flow]: required" in spec_error(post_form(c, base), 400)
    bad = {**base, "attribute[flow]": "lots"}
    assert "seep, flow, burst" in spec_error(post_form(c, bad), 400)
    unknown = {**base, "attribute[flow]": "burst", "attribute[colour]": "red"}
    assert "attribute[colour]" in spec_error(post_form(c, unknown), 400)
    twice = {**base, "attribute[flow]": ["burst", "seep"]}
    assert "one value" in spec_error(post_form(c, twice), 400)
    malformed = {**base, "attribute[flow": "burst"}
    assert spec_error(post_form(c, malformed), 400)
    good = {**base, "attribute[flow]": "burst", "attribute[urgency]": "urgent"}
    e = Event.objects.get(
        code=filed(c, key, **{k: v for k, v in good.items() if k != "api_key"})[
            "service_request_id"
        ]
    )
    assert e.urgency == "urgent"
    assert e.timeline.get(seq=1).note == "漏水情况：喷涌"


def test_a_multi_value_attribute_and_urgent_where_it_is_not_offered() -> None:
    c, key = Client(), new_key()
    hazards = {"service_code": "0403", "attribute[hazards][]": ["cars", "water"]}
    e = Event.objects.get(code=filed(c, key, **hazards)["service_request_id"])
    assert e.timeline.get(seq=1).note == "影响：影响车辆通行、积水"
    urgent = form(key, service_code="0103", **{"attribute[urgency]": "urgent"})
    assert "attribute[urgency]" in spec_error(post_form(c, urgent), 400)


@pytest.fixture
def watched_server() -> Iterator[tuple[str, list[str]]]:
    """A web server that records every request it gets (none must come from the platform)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg", hits
    finally:
        server.shutdown()


def test_media_url_is_kept_as_text_and_never_fetched(watched_server: tuple[str, list[str]]) -> None:
    url, hits = watched_server
    c, key = Client(), new_key()
    code = filed(c, key, media_url=url)["service_request_id"]
    e = Event.objects.get(code=code)
    assert url in e.timeline.get(seq=1).note
    assert ServiceRequest.objects.get(event=e).media_url == url
    mine = c.get(f"{BASE}/requests/{code}.json", {"api_key": key}).json()[0]
    assert mine["media_url"] == url
    assert hits == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://example.cn/a.jpg",
        "http:///nohost",
        "https://example.cn/a b.jpg",
        "https://example.cn/" + "a" * 1000,
    ],
)
def test_a_bad_media_url_is_400(url: str) -> None:
    assert "media_url" in spec_error(post_form(Client(), form(new_key(), media_url=url)), 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "x" * 4001),
        ("description", "占道\x00经营"),
        ("description", "\u202eevil"),
        ("description", "\u200b\u3164"),
        ("address_string", "a" * 201),
        ("first_name", "名" * 31),
        ("phone", "call me"),
        ("email", "not an address"),
        ("device_id", "d" * 65),
        ("account_id", "a\x01b"),
        ("service_code", "0" * 9),
        ("lat", ["38.02", "38.03"]),
    ],
)
def test_hostile_fields_are_400_and_nothing_is_written(field: str, value: Any) -> None:
    r = post_form(Client(), form(new_key(), **{field: value}))
    assert field in spec_error(r, 400) or field == "description"
    assert not Event.objects.filter(channel="open311").exists()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_huge_body_is_refused_before_it_is_read(fmt: str) -> None:
    r = post_form(Client(), form(new_key(), description="x" * 70_000), fmt)
    assert "65,536" in spec_error(r, 413)


def test_only_form_bodies_are_taken() -> None:
    c, key = Client(), new_key()
    r = c.post(f"{BASE}/requests.json", form(key), content_type="application/json")
    assert "x-www-form-urlencoded" in spec_error(r, 400)
    r = c.post(f"{BASE}/requests.json", form(key))  # multipart
    assert "x-www-form-urlencoded" in spec_error(r, 400)


def test_a_failure_after_intake_leaves_nothing_half_written(monkeypatch: Any) -> None:
    def refuse(*args: Any, **kwargs: Any) -> tuple[Model, bool]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ServiceRequest.objects, "get_or_create", refuse)
    r = post_form(Client(raise_request_exception=False), form(new_key()))
    assert spec_error(r, 500)
    assert not Event.objects.filter(channel="open311").exists()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_past_the_key_s_rate_answers_429_with_retry_after(fmt: str, settings: Any) -> None:
    settings.OPEN311_KEY_RATE = (100, 3600)
    c, key = Client(), new_key("small", rate="2/h")
    assert post_form(c, form(key), fmt).status_code == 201
    assert post_form(c, form(key, description="第二个"), fmt).status_code == 201
    r = post_form(c, form(key, description="第三个"), fmt)
    assert "Retry-After" in spec_error(r, 429) and 0 < int(r["Retry-After"]) <= 3600
    assert Event.objects.filter(channel="open311").count() == 2
    # the setting holds for a key without a rate of its own
    settings.OPEN311_KEY_RATE = (1, 3600)
    other = new_key("other")
    assert post_form(c, form(other), fmt).status_code == 201
    assert spec_error(post_form(c, form(other, description="又一个"), fmt), 429)


def test_issuing_and_revoking_are_audited() -> None:
    key, _raw = services.do_issue_key("audited", "10/m")
    services.do_revoke("audited")
    actions = list(
        AuditLog.objects.filter(object_type="open311.apikey", object_id=str(key.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["open311.key.issue", "open311.key.revoke"]


def test_without_a_description_the_service_s_name_describes_it() -> None:
    code = filed(Client(), new_key(), description=None)["service_request_id"]
    e = Event.objects.get(code=code)
    assert (e.title, e.description) == ("占道经营", "占道经营")


def test_a_post_needs_no_csrf_token() -> None:
    r = post_form(Client(enforce_csrf_checks=True), form(new_key()))
    assert r.status_code == 201
    r = Client(enforce_csrf_checks=True).post(f"{BASE}/nowhere.json")
    assert "no such endpoint" in spec_error(r, 404)
