"""Which grids a patrol walked through, per local day, and which grids nobody walked through;
the demo city's checkpoints; checkpoints kept in the admin."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import numpy as np
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from gridgov.accounts.models import User
from gridgov.core.models import AuditLog
from gridgov.demo.checkpoints import seed_checkpoints
from gridgov.patrol import queries, services
from gridgov.patrol.models import Checkpoint, PatrolGrid
from gridgov.patrol.services import Fix
from gridgov.regions.locator import get_locator
from gridgov.regions.models import Grid

from .. import personas
from ..factories import user_with_post
from ..helpers import point_in
from ..personas import GRID8
from .kit import HONGQI, points_in

pytestmark = pytest.mark.django_db


def dedicated_in(prefix: str) -> tuple[str, str, tuple[float, float]]:
    """A dedicated grid under ``prefix``, the base grid around its inner point, and the point."""
    for grid in Grid.objects.filter(code__startswith=prefix, kind="dedicated", effective_to=None):
        lon, lat = point_in(grid.code)
        base = [
            c
            for c in get_locator().covering_many(np.array([lon]), np.array([lat]))[0]
            if c != grid.code
        ]
        if base:
            return grid.code, base[0], (lon, lat)
    raise AssertionError(f"no dedicated grid under {prefix}")


def walked(patrol: object) -> set[tuple[str, str]]:
    rows = PatrolGrid.objects.filter(patrol=patrol).values_list("grid_code", "day")
    return {(code, day.isoformat()) for code, day in rows}


def test_a_walk_through_a_dedicated_grid_patrols_the_base_grid_around_it_too() -> None:
    school, base, (lon, lat) = dedicated_in("130104")
    worker = personas.grid_worker()
    patrol = services.do_start_patrol(worker, uuid.uuid4(), timezone.now() - timedelta(minutes=9))
    services.do_add_points(worker, patrol.pk, "batch-0001", [Fix(timezone.now(), lon, lat, 5)])
    today = timezone.localdate().isoformat()
    assert walked(patrol) == {(school, today), (base, today)}
    assert patrol.points.get().grid_code == school  # the point itself lies in the school's grid


def test_grids_are_patrolled_per_local_day() -> None:
    (a, b) = points_in(GRID8, 2)
    worker = personas.grid_worker()
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    with time_machine.travel(midnight + timedelta(minutes=30), tick=False):
        patrol = services.do_start_patrol(worker, uuid.uuid4(), midnight - timedelta(minutes=20))
        before = Fix(midnight - timedelta(minutes=10), *a)  # yesterday, Beijing time
        after = Fix(midnight + timedelta(minutes=10), *b)
        services.do_add_points(worker, patrol.pk, "batch-0002", [before, after])
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    assert walked(patrol) == {(GRID8, yesterday.isoformat()), (GRID8, today.isoformat())}
    leader = personas.township_leader()
    assert [p.pk for p in queries.patrols(leader, day=yesterday)] == [patrol.pk]
    assert [p.pk for p in queries.patrols(leader, day=today)] == [patrol.pk]  # walked today too
    assert not queries.patrols(leader, day=today - timedelta(days=2)).exists()


def test_the_unpatrolled_grids_are_the_areas_grids_nobody_walked_through() -> None:
    leader = personas.township_leader()
    day = timezone.localdate()
    rows, total = queries.unpatrolled(leader, day, limit=10_000)
    township = set(
        Grid.objects.filter(code__startswith=HONGQI, effective_to=None).values_list(
            "code", flat=True
        )
    )
    assert {r["code"] for r in rows} == township and total == len(township)
    worker = personas.grid_worker()
    patrol = services.do_start_patrol(worker, uuid.uuid4(), timezone.now(), *points_in(GRID8, 1)[0])
    rows, total = queries.unpatrolled(leader, day, limit=10_000)
    touched = {code for code, _day in walked(patrol)}
    assert GRID8 in touched and {r["code"] for r in rows} == township - touched
    assert total == len(township - touched)
    # Yesterday nobody patrolled; another county's centre never sees Hongqi's grids.
    assert queries.unpatrolled(leader, day - timedelta(days=1), limit=10_000)[1] == len(township)
    other = user_with_post("centre_leader", "130105")
    assert all(r["code"].startswith("130105") for r in queries.unpatrolled(other, day)[0])
    assert queries.unpatrolled(personas.department_handler(), day) == ([], 0)


def test_the_demo_city_has_checkpoints_inside_their_grids_in_every_township() -> None:
    demo = Checkpoint.objects.filter(synthetic=True)
    townships = {code[:9] for code in demo.values_list("grid_code", flat=True)}
    grids = Grid.objects.filter(effective_to=None, code__startswith="130104")
    assert {g.code[:9] for g in grids} <= townships  # every township of Qiaoxi has some
    assert {"school_gate", "market"} <= set(demo.values_list("kind", flat=True))
    for c in demo.filter(grid_code__startswith="130104")[:50]:
        assert services.grid_at(c.lon, c.lat) == c.grid_code
    # The demo grid workers find a school gate and a market in their own grid.
    assert set(demo.filter(grid_code=GRID8).values_list("kind", flat=True)) == {
        "school_gate",
        "market",
    }
    assert seed_checkpoints(["130104"], grids=[GRID8]) == 0  # loading again adds none


def test_a_system_administrator_keeps_checkpoints_in_the_admin() -> None:
    admin = User.objects.get(username="sysadmin")
    c = Client()
    c.force_login(admin)
    lon, lat = points_in(GRID8, 1)[0]
    form = {"name": "汇文小学南门", "kind": "school_gate", "lon": lon, "lat": lat}
    r = c.post("/admin/patrol/checkpoint/add/", {**form, "radius_m": 80, "active": "on"})
    assert r.status_code == 302, r.content.decode()[:3000]
    made = Checkpoint.objects.get(name="汇文小学南门")
    assert made.grid_code == GRID8 and made.radius_m == 80
    assert AuditLog.objects.filter(action="admin.add", object_id=str(made.pk)).exists()
    r = c.post("/admin/patrol/checkpoint/add/", {**form, "lon": 100.0, "lat": 30.0, "radius_m": 80})
    assert r.status_code == 200 and set(r.context["adminform"].form.errors) == {"lon"}
    assert Checkpoint.objects.filter(name="汇文小学南门").count() == 1
    operator = Client()
    operator.force_login(personas.township_operator())
    assert operator.get("/admin/patrol/checkpoint/").status_code != 200
