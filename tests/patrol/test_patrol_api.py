"""Patrols through the API, as the grid worker's phone sends them: start, track points,
check-ins, end — each idempotent, each audited, each in the caller's scope only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from gridgov.core.models import AuditLog
from gridgov.geo.crs import distance_m
from gridgov.patrol import track
from gridgov.patrol.models import CheckIn, Patrol, PatrolGrid, PatrolPoint

from .. import personas
from ..factories import user_with_post
from ..helpers import client, ok
from ..personas import GRID8
from .kit import (
    ago,
    check_in,
    checkpoint,
    end,
    iso,
    points_in,
    post,
    send,
    start,
    walk,
    xinhua_grid,
)

pytestmark = pytest.mark.django_db

GRID7 = "130104008019007"  # a neighbour in the same community


def audited(action: str, patrol: Any) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action, object_id=str(patrol)).order_by("seq"))


# -- start --------------------------------------------------------------------------------


def test_a_grid_worker_starts_a_patrol_in_their_grid() -> None:
    worker = personas.grid_worker()
    body = ok(start(client(worker)), 201)
    assert body["worker"] == worker.display_name and body["grid_code"] == GRID8
    assert body["state"] == "active" and body["ended_at"] is None
    assert body["point_count"] == 1 and body["grids"] == [GRID8] and body["checkins"] == []
    row = audited("patrol.start", body["id"])
    assert len(row) == 1 and row[0].actor_id == worker.pk and row[0].detail["grid"] == GRID8


def test_starting_again_with_the_same_id_answers_the_same_patrol() -> None:
    c = client(personas.grid_worker())
    first = start(c)
    again = post(c, "/patrols", _body_of(first))
    assert again.status_code == 201 and again.json() == first.json()
    assert Patrol.objects.filter(pk=first.json()["id"]).count() == 1
    assert len(audited("patrol.start", first.json()["id"])) == 1


def _body_of(response: Any) -> dict[str, Any]:
    """What the test sent for this answer."""
    return json.loads(response.wsgi_request.body)  # type: ignore[no-any-return]


def test_the_same_id_by_another_account_or_at_another_time_is_a_conflict() -> None:
    first = start(client(personas.grid_worker()))
    body = _body_of(first)
    colleague = user_with_post("grid_worker", GRID8)
    r = post(client(colleague), "/patrols", body)
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "id"]
    r = post(client(personas.grid_worker()), "/patrols", {**body, "started_at": iso(ago(5))})
    assert r.status_code == 409
    # Whoever may not patrol learns nothing of the id.
    assert post(client(personas.township_operator()), "/patrols", body).status_code == 403
    assert Patrol.objects.get(pk=body["id"]).worker == personas.grid_worker()


def test_only_grid_staff_with_an_active_post_may_patrol() -> None:
    assert start(client(personas.township_operator())).status_code == 403
    assert start(client(personas.department_handler())).status_code == 403
    gone = user_with_post("grid_worker", GRID8)
    gone.posts.update(active=False)
    assert start(client(gone)).status_code == 403
    assert not Patrol.objects.exists()


def test_a_start_outside_the_workers_grid_belongs_to_their_own_grid() -> None:
    body = ok(start(client(personas.grid_worker()), grid=GRID7), 201)
    assert body["grid_code"] == GRID8  # the patrol is the worker's, in their grid
    assert body["grids"] == [GRID7]  # and it walked through the neighbour's


def test_a_grid_leader_patrols_the_grid_they_start_in() -> None:
    leader = personas.grid_leader()  # the whole community
    assert ok(start(client(leader), grid=GRID7), 201)["grid_code"] == GRID7
    no_point = post(
        client(leader), "/patrols", {"id": str(uuid.uuid4()), "started_at": iso(ago(3))}
    )
    assert ok(no_point, 201)["grid_code"].startswith(personas.HUIWEN)


# -- points -------------------------------------------------------------------------------


def test_points_are_stored_counted_measured_and_their_grids_touched() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    points = walk(n=4)
    answer = ok(send(c, patrol, points))
    assert answer == {"accepted": 4, "point_count": 5}
    p = Patrol.objects.get(pk=patrol)
    first = PatrolPoint.objects.filter(patrol=p).order_by("at").first()
    assert first is not None
    lons = [first.lon] + [q["lon"] for q in points]
    lats = [first.lat] + [q["lat"] for q in points]
    assert p.distance_m == pytest.approx(track.length_m(lons, lats), abs=0.01) and p.distance_m > 0
    assert set(PatrolPoint.objects.filter(patrol=p).values_list("grid_code", flat=True)) == {GRID8}
    assert set(PatrolGrid.objects.filter(patrol=p).values_list("grid_code", flat=True)) == {GRID8}
    assert audited("patrol.points", patrol)[0].detail["accepted"] == 4


def test_a_replayed_batch_stores_nothing_new_and_answers_the_same() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    key, points = str(uuid.uuid4()), walk(n=3)
    first = ok(send(c, patrol, points, key))
    assert ok(send(c, patrol, points, key)) == first
    assert PatrolPoint.objects.filter(patrol_id=patrol).count() == 4
    assert len(audited("patrol.points", patrol)) == 1
    # The same points under a new key (the phone lost the answer and rebuilt the batch).
    assert ok(send(c, patrol, points)) == {"accepted": 0, "point_count": 4}
    assert PatrolPoint.objects.filter(patrol_id=patrol).count() == 4
    # The same key with other points is refused.
    r = send(c, patrol, walk(n=2, since=5), key)
    assert r.status_code == 409 and PatrolPoint.objects.filter(patrol_id=patrol).count() == 4


def test_a_late_batch_from_earlier_in_the_walk_is_measured_in_time_order() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c, minutes=60), 201)["id"]
    points = walk(n=4, since=50, step=5)
    ok(send(c, patrol, points[2:]))
    ok(send(c, patrol, points[:2]))  # sent later, walked earlier
    rows = list(PatrolPoint.objects.filter(patrol_id=patrol).order_by("at"))
    expected = track.length_m([r.lon for r in rows], [r.lat for r in rows])
    assert Patrol.objects.get(pk=patrol).distance_m == pytest.approx(expected, abs=0.01)


def test_inaccurate_points_are_kept_but_neither_measured_nor_marking_a_grid() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c, grid=GRID7), 201)["id"]  # starts (accurately) in grid 7
    lon, lat = points_in(GRID8, 1)[0]
    far = {"at": iso(ago(20)), "lon": lon, "lat": lat, "accuracy_m": 1500}
    assert ok(send(c, patrol, [far])) == {"accepted": 1, "point_count": 2}
    p = Patrol.objects.get(pk=patrol)
    assert p.distance_m == 0
    assert set(PatrolGrid.objects.filter(patrol=p).values_list("grid_code", flat=True)) == {GRID7}


def test_a_foreign_patrol_is_not_found() -> None:
    patrol = ok(start(client(personas.grid_worker())), 201)["id"]
    colleague = client(user_with_post("grid_worker", GRID8))
    assert send(colleague, patrol, walk(n=1)).status_code == 404
    assert check_in(colleague, patrol, checkpoint()).status_code == 404
    assert end(colleague, patrol).status_code == 404
    assert colleague.get(f"/api/v1/patrols/{patrol}").status_code == 404
    assert send(colleague, str(uuid.uuid4()), walk(n=1)).status_code == 404
    assert Patrol.objects.get(pk=patrol).point_count == 1


# -- check-ins ----------------------------------------------------------------------------


def test_a_check_in_at_the_place_is_within_and_far_from_it_is_not() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    place = checkpoint(radius_m=50)
    here = ok(check_in(c, patrol, place), 201)
    assert here["within"] is True and here["distance_m"] == 0
    assert here["checkpoint"] == place.pk and here["checkpoint_name"] == place.name
    away = ok(check_in(c, patrol, place, lat=place.lat + 0.0018, accuracy_m=20), 201)  # ~200 m
    assert away["within"] is False
    assert away["distance_m"] == pytest.approx(
        distance_m(place.lon, place.lat, place.lon, place.lat + 0.0018), abs=0.1
    )
    # 80 m off with the phone saying ±40 m: inside 50 m + 40 m.
    near = ok(check_in(c, patrol, place, lat=place.lat + 0.00072, accuracy_m=40), 201)
    assert near["within"] is True
    # A fix "accurate to 5 km" is allowed 100 m at most.
    vague = ok(check_in(c, patrol, place, lat=place.lat + 0.0018, accuracy_m=5000), 201)
    assert vague["within"] is False
    detail = ok(c.get(f"/api/v1/patrols/{patrol}"))
    assert [x["within"] for x in detail["checkins"]] == [True, False, True, False]
    row = audited("patrol.checkin", patrol)[0]
    assert row.detail["checkpoint"] == place.pk and row.detail["within"] is True


def test_a_replayed_check_in_answers_the_same_and_stores_one() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    place = checkpoint()
    first = check_in(c, patrol, place)
    body = _body_of(first)
    again = post(c, f"/patrols/{patrol}/checkins", body)
    assert again.status_code == 201 and again.json() == first.json()
    assert CheckIn.objects.filter(pk=body["id"]).count() == 1
    assert len(audited("patrol.checkin", patrol)) == 1
    other = checkpoint(name="农贸市场", kind="market")
    r = post(c, f"/patrols/{patrol}/checkins", {**body, "checkpoint": other.pk})
    assert r.status_code == 409
    second = ok(start(c), 201)["id"]
    assert post(c, f"/patrols/{second}/checkins", body).status_code == 409


def test_a_checkpoint_the_worker_cannot_see_is_refused_on_its_field() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    for place in (checkpoint(xinhua_grid()), checkpoint(GRID7), checkpoint(active=False)):
        r = check_in(c, patrol, place)
        assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["body", "checkpoint"]
    r = check_in(c, patrol, checkpoint(), checkpoint=2**62)
    assert r.status_code == 400
    assert not CheckIn.objects.exists()


# -- end ----------------------------------------------------------------------------------


def test_ending_closes_the_patrol_once_and_refuses_more() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    place = checkpoint()
    early = check_in(c, patrol, place)
    lon, lat = points_in(GRID8, 2)[1]
    ended = ok(end(c, patrol, lon=lon, lat=lat))
    assert ended["state"] == "ended" and ended["ended_at"] is not None
    assert ended["point_count"] == 2 and len(ended["checkins"]) == 1
    assert ok(end(c, patrol, minutes=0)) == ended  # ending again answers the same
    assert len(audited("patrol.end", patrol)) == 1
    r = send(c, patrol, walk(n=1, since=2))
    assert r.status_code == 409 and "ended" in r.json()["detail"][0]["msg"]
    r = check_in(c, patrol, place)
    assert r.status_code == 409 and "ended" in r.json()["detail"][0]["msg"]
    # A check-in made before the end, sent again, still answers as it did.
    again = post(c, f"/patrols/{patrol}/checkins", _body_of(early))
    assert again.status_code == 201 and again.json() == early.json()
    assert Patrol.objects.get(pk=patrol).point_count == 2


def test_an_end_before_the_start_is_refused() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c, minutes=10), 201)["id"]
    r = end(c, patrol, minutes=20)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ended_at"]
    assert Patrol.objects.get(pk=patrol).state == "active"


# -- reads --------------------------------------------------------------------------------


def test_the_detail_carries_the_track_in_time_order() -> None:
    c = client(personas.grid_worker())
    patrol = ok(start(c, minutes=60), 201)["id"]
    points = walk(n=4, since=50, step=5)
    ok(send(c, patrol, [points[3], points[1]]))
    ok(send(c, patrol, [points[0], points[2]]))
    detail = ok(c.get(f"/api/v1/patrols/{patrol}"))
    times = [t[2] for t in detail["track"]]
    assert len(times) == 5 and times == sorted(times)
    assert detail["track"][1][:2] == [points[0]["lon"], points[0]["lat"]]


def test_each_sees_the_patrols_of_their_scope_only() -> None:
    worker, colleague = personas.grid_worker(), user_with_post("grid_worker", GRID8)
    mine = ok(start(client(worker)), 201)["id"]
    theirs = ok(start(client(colleague)), 201)["id"]
    listed = ok(client(worker).get("/api/v1/patrols"))
    assert [p["id"] for p in listed["items"]] == [mine] and listed["count"] == 1
    township = ok(client(personas.township_operator()).get("/api/v1/patrols"))
    assert {p["id"] for p in township["items"]} == {mine, theirs}
    assert ok(client(personas.grid_leader()).get(f"/api/v1/patrols/{theirs}"))["id"] == theirs
    other_county = client(user_with_post("operator", "130105"))
    assert ok(other_county.get("/api/v1/patrols"))["count"] == 0
    assert other_county.get(f"/api/v1/patrols/{mine}").status_code == 404
    assert client(personas.mediator()).get(f"/api/v1/patrols/{mine}").status_code == 404
    mine_only = ok(client(personas.township_leader()).get("/api/v1/patrols?mine=true"))
    assert mine_only["count"] == 0


def test_the_list_filters_by_day_and_pages() -> None:
    from django.utils import timezone

    c = client(personas.grid_worker())
    ids = [ok(start(c, minutes=30 + i), 201)["id"] for i in range(3)]
    today = timezone.localdate().isoformat()
    page = ok(c.get(f"/api/v1/patrols?mine=true&day={today}&limit=2&offset=1"))
    assert page["count"] == 3 and [p["id"] for p in page["items"]] == ids[1:]
    assert ok(c.get("/api/v1/patrols?day=2001-01-01"))["count"] == 0


def test_checkpoints_are_listed_within_the_callers_scope() -> None:
    mine, neighbour, foreign = checkpoint(), checkpoint(GRID7), checkpoint(xinhua_grid())
    hidden = checkpoint(active=False)
    ids = {c["id"] for c in ok(client(personas.grid_worker()).get("/api/v1/checkpoints"))}
    assert mine.pk in ids and not ids & {neighbour.pk, foreign.pk, hidden.pk}
    township = ok(client(personas.township_operator()).get("/api/v1/checkpoints"))
    ids = {c["id"] for c in township}
    assert {mine.pk, neighbour.pk} <= ids and foreign.pk not in ids
    assert all(c["grid_code"].startswith("130104008") for c in township)
    one = next(c for c in township if c["id"] == mine.pk)
    assert one == {
        "id": mine.pk,
        "name": mine.name,
        "kind": "school_gate",
        "grid_code": GRID8,
        "lon": mine.lon,
        "lat": mine.lat,
        "radius_m": 100,
    }
    under = ok(client(personas.township_operator()).get(f"/api/v1/checkpoints?under={GRID7}"))
    assert neighbour.pk in {c["id"] for c in under}
    assert {c["grid_code"] for c in under} == {GRID7}
