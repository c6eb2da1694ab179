"""The centre's patrol page: a day's patrols in the viewer's scope, their map data, the grids
nobody walked through, one patrol's page — and nothing of another area."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gridgov.patrol import queries
from gridgov.patrol.models import PatrolGrid
from gridgov.regions.models import Grid

from .. import personas
from ..factories import user_with_post
from ..helpers import client, ok
from ..patrol.kit import HONGQI, check_in, checkpoint, end, send, start, walk
from ..personas import GRID8

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("midday")]

GRID7 = "130104008019007"


def patrolled() -> tuple[str, str]:
    """Grid 8's worker patrols grid 8 and checks in at its school gate and, away from it, at
    its market; returns the patrol's id and the name of the checkpoint missed."""
    c = client(personas.grid_worker())
    patrol = ok(start(c), 201)["id"]
    ok(send(c, patrol, walk(n=4)))
    gate, market = checkpoint(), checkpoint(name="汇文农贸市场", kind="market", radius_m=30)
    ok(check_in(c, patrol, gate), 201)
    ok(check_in(c, patrol, market, lat=market.lat + 0.003), 201)
    ok(end(c, patrol))
    return patrol, market.name


def test_the_page_lists_the_days_patrols_and_the_unpatrolled_grids() -> None:
    patrol, _missed = patrolled()
    r = client(personas.township_operator()).get("/console/patrols/")
    assert r.status_code == 200
    html = r.content.decode()
    assert personas.grid_worker().display_name in html and f'data-patrol="{patrol}"' in html
    rows = r.context["rows"]
    assert len(rows) == 1 and rows[0]["checkin_count"] == 2
    assert (rows[0]["within_count"], rows[0]["outside_count"]) == (1, 1)
    unpatrolled = {g["code"] for g in r.context["unpatrolled"]}
    assert GRID7 in unpatrolled and GRID8 not in unpatrolled and GRID7 in html
    in_township = Grid.objects.filter(code__startswith=HONGQI, effective_to=None).count()
    walked = set(PatrolGrid.objects.filter(patrol_id=patrol).values_list("grid_code", flat=True))
    assert r.context["unpatrolled_total"] == in_township - len(walked)
    assert not walked & unpatrolled
    assert all(code.startswith(HONGQI) for code in unpatrolled)
    assert 'href="/console/patrols/"' in html  # the nav link


def test_another_day_shows_no_patrol_and_every_grid_unpatrolled() -> None:
    patrolled()
    day = (timezone.localdate() - timedelta(days=3)).isoformat()
    r = client(personas.township_operator()).get(f"/console/patrols/?day={day}")
    assert r.status_code == 200 and r.context["rows"] == []
    assert GRID8 in {g["code"] for g in r.context["unpatrolled"]}


def test_the_unpatrolled_list_is_capped_with_its_count() -> None:
    rows, total = queries.unpatrolled(personas.county_operator(), timezone.localdate(), limit=5)
    assert (
        len(rows) == 5
        and total == Grid.objects.filter(code__startswith="130104", effective_to=None).count()
    )
    r = client(personas.county_operator()).get("/console/patrols/")
    assert len(r.context["unpatrolled"]) == queries.UNPATROLLED_LIMIT < total
    assert r.context["unpatrolled_total"] == total and f">{total}<" in r.content.decode()


def test_the_map_data_carries_tracks_check_ins_and_checkpoints_in_scope() -> None:
    patrol, missed = patrolled()
    data = ok(client(personas.township_leader()).get("/console/patrols/map.json"))
    (shown,) = data["patrols"]
    assert shown["id"] == patrol and len(shown["track"]) == 5  # start, 4 points
    assert [c["within"] for c in shown["checkins"]] == [True, False]
    assert missed in {c["name"] for c in data["checkpoints"]}
    assert all(c["grid_code"].startswith(HONGQI) for c in data["checkpoints"])


def test_the_patrol_page_shows_its_track_and_check_ins() -> None:
    patrol, missed = patrolled()
    r = client(personas.grid_leader()).get(f"/console/patrols/{patrol}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert missed in html and 'id="patrol-data"' in html
    assert len(r.context["map_data"]["patrols"][0]["track"]) == 5


def test_other_areas_and_other_roles_see_nothing() -> None:
    patrol, _missed = patrolled()
    other = client(user_with_post("operator", "130105"))
    r = other.get("/console/patrols/")
    assert r.status_code == 200 and r.context["rows"] == []
    assert all(g["code"].startswith("130105") for g in r.context["unpatrolled"])
    assert ok(other.get("/console/patrols/map.json"))["patrols"] == []
    assert other.get(f"/console/patrols/{patrol}/").status_code == 404
    worker = client(personas.grid_worker())
    assert worker.get("/console/patrols/").status_code == 302
    assert worker.get(f"/console/patrols/{patrol}/").status_code == 404
    assert worker.get("/console/patrols/map.json").status_code == 403
    assert 'href="/console/patrols/"' not in worker.get("/console/inbox/").content.decode()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2026-02-30", "x" * 5000, "<b>"])
def test_a_bad_day_answers_400(day: str) -> None:
    c = client(personas.township_operator())
    assert c.get("/console/patrols/", {"day": day}).status_code == 400
    assert c.get("/console/patrols/map.json", {"day": day}).status_code == 400
    assert c.get("/console/patrols/", {"page": "-1"}).status_code == 400


def test_pages_need_a_session() -> None:
    from django.test import Client

    assert Client().get("/console/patrols/").status_code == 302
    assert Client().get("/console/patrols/map.json").status_code == 302
