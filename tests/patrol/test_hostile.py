"""What a hostile or broken phone may send to the patrol API: every bad input answers a clear
4xx naming the field, never a 500, and stores nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from gridgov.patrol.models import CheckIn, Patrol, PatrolPoint

from .. import personas
from ..helpers import client, ok
from .kit import ago, check_in, checkpoint, end, iso, post, send, start, walk

pytestmark = pytest.mark.django_db


def raw(c: Client, path: str, text: str | bytes) -> Any:
    return c.post(f"/api/v1{path}", text, content_type="application/json")


def fields(r: Any) -> set[str]:
    return {str(e["loc"][-1]) for e in r.json()["detail"]}


def started() -> tuple[Client, str]:
    c = client(personas.grid_worker())
    return c, ok(start(c), 201)["id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"id": 12}, "id"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"started_at": 1.5e300}, "started_at"),
        ({"lon": 181}, "lon"),
        ({"lat": -91}, "lat"),
        ({"lon": "东经"}, "lon"),
        ({"lon": [1, 2]}, "lon"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"accuracy_m": 1e9}, "accuracy_m"),
        ({"lat": None}, "lat"),  # a longitude without its latitude
    ],
)
def test_a_bad_start_is_refused_on_its_field(change: dict[str, Any], field: str) -> None:
    r = start(client(personas.grid_worker()), **change)
    assert r.status_code == 422, r.content
    assert field in fields(r)
    assert not Patrol.objects.exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinite_coordinates_are_refused(number: str) -> None:
    c = client(personas.grid_worker())
    text = f'{{"id": "{uuid.uuid4()}", "started_at": "{iso(ago(5))}", "lon": {number}, "lat": 38}}'
    r = raw(c, "/patrols", text)
    assert r.status_code == 422 and "lon" in fields(r)
    c2, patrol = started()
    text = (
        f'{{"client_id": "{uuid.uuid4()}", "points": '
        f'[{{"at": "{iso(ago(5))}", "lon": 114.5, "lat": {number}}}]}}'
    )
    r = raw(c2, f"/patrols/{patrol}/points", text)
    assert r.status_code == 422 and "lat" in fields(r)
    assert PatrolPoint.objects.filter(patrol_id=patrol).count() == 1


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (lambda: iso(ago(-30)), "future"),
        (lambda: iso(ago(8 * 24 * 60)), "days old"),
        (lambda: ago(5).replace(tzinfo=None).isoformat(), "offset"),
        (lambda: "0001-01-01T00:00:00+05:00", "days old"),
        (lambda: "9999-12-31T23:59:59-05:00", "future"),
    ],
)
def test_times_from_a_wrong_clock_are_refused(moment: Any, message: str) -> None:
    c = client(personas.grid_worker())
    r = start(c, started_at=moment())
    assert r.status_code == 422 and fields(r) == {"started_at"}
    assert message in r.json()["detail"][0]["msg"]
    patrol = ok(start(c), 201)["id"]
    r = send(c, patrol, [{"at": moment(), "lon": 114.5, "lat": 38.0}])
    assert r.status_code == 422 and fields(r) == {"points.0.at"}
    r = end(c, patrol, ended_at=moment())
    assert r.status_code == 422 and fields(r) == {"ended_at"}
    assert Patrol.objects.get(pk=patrol).state == "active"


def test_points_long_before_the_start_are_refused_by_index() -> None:
    c, patrol = started()  # 30 minutes ago
    points = walk(n=3, since=20)
    points[2]["at"] = iso(ago(60))
    r = send(c, patrol, points)
    assert r.status_code == 422 and fields(r) == {"points.2.at"}
    assert PatrolPoint.objects.filter(patrol_id=patrol).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "short", "points": [{"at": "2026-01-01T00:00:00Z", "lon": 1, "lat": 1}]},
        {"client_id": "x" * 81, "points": []},
        {"client_id": "a-valid-key-123", "points": []},
        {"client_id": "a-valid-key-123", "points": "many"},
        {"client_id": "a-valid-key-123", "points": [1, 2, 3]},
        {"client_id": "a-valid-key-123", "points": [{"lon": 1, "lat": 1}]},
        {"client_id": 12345678, "points": [{"at": "2026-01-01T00:00:00Z", "lon": 1, "lat": 1}]},
        {"points": [{"at": "2026-01-01T00:00:00Z", "lon": 1, "lat": 1}]},
        [],
        "points",
    ],
)
def test_malformed_batches_are_refused(body: Any) -> None:
    c, patrol = started()
    r = post(c, f"/patrols/{patrol}/points", body)
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.content
    assert PatrolPoint.objects.filter(patrol_id=patrol).count() == 1


def test_a_huge_batch_is_refused_whole() -> None:
    c, patrol = started()
    point = {"at": iso(ago(5)), "lon": 114.5, "lat": 38.0}
    r = send(c, patrol, [point] * 501)
    assert r.status_code == 422 and "points" in fields(r)
    r = send(c, patrol, [point] * 40_000)  # about 2 MB: refused before it is read
    assert r.status_code == 413
    assert PatrolPoint.objects.filter(patrol_id=patrol).count() == 1


def test_a_megabyte_of_text_is_refused() -> None:
    c, patrol = started()
    place = checkpoint()
    assert check_in(c, patrol, place, note="巡" * 400_000).status_code == 413
    r = check_in(c, patrol, place, note="x" * 501)
    assert r.status_code == 422 and fields(r) == {"note"}
    r = check_in(c, patrol, place, note="正常\u0000隐藏")
    assert r.status_code == 422 and fields(r) == {"note"}
    assert send(c, patrol, walk(n=1), client_id="k" * 1_100_000).status_code == 413
    r = send(c, patrol, walk(n=1), client_id="k" * 900_000)  # under the body limit
    assert r.status_code == 422 and fields(r) == {"client_id"}
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"checkpoint": "first"}, "checkpoint"),
        ({"checkpoint": 0}, "checkpoint"),
        ({"checkpoint": 2**70}, "checkpoint"),
        ({"checkpoint": 1.5}, "checkpoint"),
        ({"id": "x"}, "id"),
        ({"lon": None}, "lon"),
        ({"at": None}, "at"),
        ({"note": ["a"]}, "note"),
        ({"accuracy_m": "±5"}, "accuracy_m"),
    ],
)
def test_bad_check_ins_are_refused_on_their_field(change: dict[str, Any], field: str) -> None:
    c, patrol = started()
    r = check_in(c, patrol, checkpoint(), **change)
    assert r.status_code == 422 and field in fields(r), r.content
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patrols/not-a-uuid",
        "/api/v1/patrols/" + "9" * 500,
        "/api/v1/patrols/%00",
        f"/api/v1/patrols/{uuid.uuid4()}",
    ],
)
def test_odd_patrol_ids_are_not_found(path: str) -> None:
    c = client(personas.grid_worker())
    assert c.get(path).status_code == 404
    r = c.post(path + "/end", {"ended_at": iso(ago(1))}, content_type="application/json")
    assert r.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=100000",
        "offset=-1",
        "offset=99999999999999999999",
        "day=9999-12-31",
        "day=0001-01-01",
        "day=2026-02-30",
        "day=today",
        "mine=maybe",
    ],
)
def test_bad_list_parameters_answer_422(query: str) -> None:
    r = client(personas.township_operator()).get(f"/api/v1/patrols?{query}")
    assert r.status_code == 422, r.content


def test_bad_checkpoint_filters_answer_422_and_unknown_body_json_400() -> None:
    c = client(personas.grid_worker())
    assert c.get("/api/v1/checkpoints?under=13010").status_code == 422
    assert c.get("/api/v1/checkpoints?under=" + "1" * 500).status_code == 422
    r = raw(c, "/patrols", "{not json")
    assert 400 <= r.status_code < 500
    r = raw(c, "/patrols", json.dumps({"id": str(uuid.uuid4())}).encode() + b"\xff\xfe")
    assert 400 <= r.status_code < 500
    assert not Patrol.objects.exists()
