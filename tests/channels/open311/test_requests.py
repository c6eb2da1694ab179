"""GET requests: what a client may see (its own requests; others only as the square map shows
them), filters, the 90-day window and the 1000-row cap, status and dates."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.channels.open311 import queries
from gridgov.events import services as events
from gridgov.events.models import Category, Event
from gridgov.events.services import Input
from gridgov.events.states import State

from ...eventbuilder import in_state, op
from .helpers import BASE, filed, new_key, spec_error, xml

pytestmark = pytest.mark.django_db

PERSON = ["王小明", "小明", "13912345678", "wang@example.cn"]
FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


def _get(c: Client, path: str, key: str = "", fmt: str = "json", **params: Any) -> Any:
    if key:
        params["api_key"] = key
    return c.get(f"{BASE}/{path}.{fmt}", params)


def _accept(code: str, reply: str = "") -> Event:
    e = events.act(Event.objects.get(code=code).pk, "accept", op(), Input())
    if reply:
        e = events.act(e.pk, "reply", op(), Input(reply=reply))
    return e


def test_the_own_client_sees_what_it_sent() -> None:
    c, key = Client(), new_key("mine")
    code = filed(c, key, media_url="https://img.example.cn/1.jpg")["service_request_id"]
    e = Event.objects.get(code=code)
    [row] = _get(c, "requests", key).json()
    assert list(row) == FIELDS
    assert row["service_request_id"] == code and row["status"] == "open"
    assert row["description"] == "路口有人占道经营，堵住了人行道"
    assert row["address"] == "汇文街 12 号门口"
    assert (row["lat"], row["long"]) == (e.lat, e.lon)
    assert row["media_url"] == "https://img.example.cn/1.jpg"
    assert row["agency_responsible"] == "红旗街道综治中心"
    assert row["expected_datetime"] == timezone.localtime(e.due_at).isoformat(timespec="seconds")
    assert row["requested_datetime"].endswith("+08:00")
    assert _get(c, f"requests/{code}", key).json() == [row]
    body = _get(c, "requests", key).content.decode()
    assert not [p for p in PERSON if p in body]  # never the reporter, not even to its client


def test_a_request_not_yet_accepted_is_seen_by_its_client_only() -> None:
    c, key = Client(), new_key("mine")
    code = filed(c, key)["service_request_id"]
    other = new_key("other")
    assert _get(c, "requests", other).json() == []
    assert _get(c, "requests").json() == []
    assert spec_error(_get(c, f"requests/{code}", other), 404)
    assert spec_error(_get(c, f"requests/{code}"), 404)
    e = Event.objects.get(code=code)
    assert spec_error(_get(c, f"requests/{e.pk}", other), 404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_others_see_an_accepted_request_only_as_the_square_map_does(fmt: str) -> None:
    c, key = Client(), new_key("mine")
    code = filed(c, key, media_url="https://img.example.cn/1.jpg")["service_request_id"]
    e = _accept(code, reply="已通知城管")
    for caller in (new_key("other"), ""):
        r = _get(c, "requests", caller, fmt)
        body = r.content.decode()
        for secret in [
            *PERSON,
            code,
            "路口有人占道经营",
            "汇文街",
            "img.example.cn",
            f"{e.lat:.6f}",
        ]:
            assert secret not in body
        if fmt == "json":
            [row] = r.json()
        else:
            [request] = xml(r.content)
            row = {child.tag: child.text for child in request}
        assert row["service_request_id"] == str(e.pk)
        assert row["description"] is None and row["address"] is None and row["media_url"] is None
        assert row["service_code"] == "0201" and row["status_notes"] == "已通知城管"
        assert float(row["lat"]) == round((int(e.lat / 0.001) + 0.5) * 0.001, 4)
        assert float(row["long"]) == round((int(e.lon / 0.001) + 0.5) * 0.001, 4)
        assert str(row["requested_datetime"]).endswith("T00:00:00+08:00")  # the day only
        assert str(row["expected_datetime"]).endswith("T00:00:00+08:00")  # the deadline's too
        assert _get(c, f"requests/{e.pk}", caller, fmt).status_code == 200
        # a case number opens the caller's own requests only
        assert spec_error(_get(c, f"requests/{code}", caller, fmt), 404)


def test_a_sensitive_category_never_appears() -> None:
    c, key = Client(), new_key("mine")
    dispute = in_state("registered", category="0801")  # 邻里纠纷, from another channel
    code = filed(c, key)["service_request_id"]
    _accept(code)
    # an operator reclassifies the Open311 request as a dispute
    Event.objects.filter(code=code).update(category=Category.objects.get(code="0801"))
    for caller in (key, new_key("other"), ""):
        assert _get(c, "requests", caller).json() == []
        assert spec_error(_get(c, f"requests/{dispute.pk}", caller), 404)
    assert spec_error(_get(c, f"requests/{code}", key), 404)


def test_a_category_made_sensitive_disappears_from_others() -> None:
    e = in_state("registered", category="0202")
    assert [r["service_request_id"] for r in _get(Client(), "requests").json()] == [str(e.pk)]
    Category.objects.filter(code="0202").update(sensitive=True)
    assert _get(Client(), "requests").json() == []


@pytest.mark.parametrize(
    ("state", "status"),
    [(s.value, "closed" if s.value in queries.CLOSED_STATES else "open") for s in State],
)
def test_status_is_open_or_closed(state: str, status: str) -> None:
    closed = {"closed", "archived", "rejected", "merged", "cancelled"}
    assert (status == "closed") == (state in closed)
    assert queries.status(Event(state=state)) == status


def test_a_closed_request_has_no_expected_datetime_and_filters_by_status() -> None:
    done = in_state("closed", category="0202")
    going = in_state("in_progress", category="0201")
    c = Client()
    rows = {r["service_request_id"]: r for r in _get(c, "requests").json()}
    assert rows[str(done.pk)]["status"] == "closed"
    assert rows[str(done.pk)]["expected_datetime"] is None
    assert rows[str(going.pk)]["expected_datetime"] is not None
    closed = _get(c, "requests", status="closed").json()
    assert [r["service_request_id"] for r in closed] == [str(done.pk)]
    opened = _get(c, "requests", status="open").json()
    assert [r["service_request_id"] for r in opened] == [str(going.pk)]
    both = _get(c, "requests", status="open,closed").json()
    assert len(both) == 2
    codes = _get(c, "requests", service_code="0202").json()
    assert [r["service_request_id"] for r in codes] == [str(done.pk)]
    ids = _get(c, "requests", service_request_id=f"{done.pk},{uuid.uuid4()}").json()
    assert [r["service_request_id"] for r in ids] == [str(done.pk)]
    assert spec_error(_get(c, "requests", status="pending"), 400)


def test_the_window_is_the_last_90_days_at_most() -> None:
    old, new = in_state("registered"), in_state("registered")
    Event.objects.filter(pk=old.pk).update(reported_at=timezone.now() - timedelta(days=100))
    c = Client()
    assert [r["service_request_id"] for r in _get(c, "requests").json()] == [str(new.pk)]
    start = (timezone.now() - timedelta(days=101)).date().isoformat()
    window = _get(c, "requests", start_date=start).json()  # 90 days from the start
    assert [r["service_request_id"] for r in window] == [str(old.pk)]
    end = timezone.now().isoformat()
    assert "90 days" in spec_error(_get(c, "requests", start_date=start, end_date=end), 400)
    assert spec_error(_get(c, "requests", start_date="yesterday"), 400)
    assert spec_error(_get(c, "requests", start_date="2026-02-01", end_date="2026-01-01"), 400)
    assert spec_error(_get(c, "requests", start_date="9999-12-31T23:59:59"), 400)
    assert spec_error(_get(c, "requests", start_date="2026-01-01\x00"), 400)
    utc = _get(c, "requests", start_date="2026-01-01T00:00:00Z", end_date="2026-02-01T00:00:00Z")
    assert utc.status_code == 200


def test_at_most_1000_requests_newest_first() -> None:
    e = in_state("registered")
    fields = {f.attname: getattr(e, f.attname) for f in Event._meta.concrete_fields}
    now = timezone.now()
    copies = [
        Event(
            **{
                **fields,
                "id": uuid.uuid4(),
                "code": f"T{n:08d}",
                "client_id": f"copy-{n}",
                "reported_at": now - timedelta(minutes=n + 1),
            }
        )
        for n in range(1001)
    ]
    Event.objects.bulk_create(copies, batch_size=500)
    rows = _get(Client(), "requests").json()
    assert len(rows) == 1000
    assert rows[0]["service_request_id"] == str(e.pk)
    assert rows[-1]["service_request_id"] == str(copies[998].pk)


def test_a_wrong_key_on_a_read_is_403_and_reads_have_a_limit(settings: Any) -> None:
    c = Client()
    assert spec_error(_get(c, "requests", "o311_wrong"), 403)
    settings.OPEN311_ADDRESS_RATE = (2, 3600)
    Client().get(f"{BASE}/services.json")
    r = _get(c, "requests")
    assert spec_error(r, 429) and r["Retry-After"]
    # a client with a key is counted on its own key, not the address
    assert _get(c, "requests", new_key("keyed")).status_code == 200


def test_too_many_ids_or_repeated_parameters_are_400() -> None:
    c = Client()
    ids = ",".join(str(uuid.uuid4()) for _ in range(101))
    assert spec_error(_get(c, "requests", service_request_id=ids), 400)
    r = c.get(f"{BASE}/requests.json?status=open&status=closed")
    assert spec_error(r, 400)
    assert spec_error(_get(c, "requests", service_code="02;01"), 400)


def test_the_agency_is_the_department_it_was_sent_to() -> None:
    e = in_state("dispatched", category="0101")  # 暴露垃圾: a department's
    assert e.assignee_unit is not None
    [row] = _get(Client(), "requests").json()
    assert row["agency_responsible"] == e.assignee_unit.name != e.receiving_centre.name
