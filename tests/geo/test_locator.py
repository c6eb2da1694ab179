"""GridLocator: points inside, on dedicated grids, outside, and in GCJ-02/BD-09."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from shapely.geometry import Point, box, mapping

from gridgov.geo.crs import distance_m, from_wgs84
from gridgov.geo.geometry import polygon_from_geojson
from gridgov.regions.locator import get_locator
from gridgov.regions.models import Grid, Region
from gridgov.regions.services import do_import_grids, export_grids

from ..factories import user_with_post

pytestmark = pytest.mark.django_db

GRID8 = "130104008019008"


def inner_point(code: str) -> Point:
    return polygon_from_geojson(
        Grid.objects.get(code=code, effective_to=None).boundary
    ).representative_point()


def test_points_inside_base_grids() -> None:
    locator = get_locator()
    for grid in Grid.objects.filter(village_id="130104008019", kind="base", effective_to=None):
        p = inner_point(grid.code)
        hit = locator.locate(p.x, p.y)
        assert hit is not None and hit.inside
        assert hit.code == grid.code and hit.distance_m == 0


def test_dedicated_grid_wins_over_the_base_grid_under_it() -> None:
    dedicated = Grid.objects.filter(kind="dedicated", effective_to=None).first()
    assert dedicated is not None
    p = inner_point(dedicated.code)
    locator = get_locator()
    under = [locator.base.rows[i].code for i in locator.base.hits(p)]
    assert under, "the demo's dedicated grids lie on base grids"
    hit = locator.locate(p.x, p.y)
    assert hit is not None and hit.code == dedicated.code and hit.kind == "dedicated"


def test_outside_every_grid_gives_nearest_and_distance() -> None:
    county = polygon_from_geojson(Region.objects.get(code="130123").boundary)
    east = county.bounds[2]
    y = (county.bounds[1] + county.bounds[3]) / 2
    # walk east from the county's far edge until 2 km outside
    edge = max(county.intersection(box(east - 0.5, y - 1e-4, east, y + 1e-4)).bounds[2], east - 0.5)
    x = edge + 2000 / (111_320 * np.cos(np.radians(y)))
    hit = get_locator().locate(x, y)
    assert hit is not None and not hit.inside
    assert hit.code.startswith("130123")
    assert 1500 < hit.distance_m <= 2100
    far = get_locator().locate(116.397, 39.909)  # Beijing
    assert far is not None and not far.inside and far.distance_m > 150_000


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_gcj02_and_bd09_inputs_find_the_same_grid(crs: str) -> None:
    p = inner_point(GRID8)
    x, y = from_wgs84(p.x, p.y, crs)
    hit = get_locator().locate(x, y, crs)
    assert hit is not None and hit.code == GRID8
    assert distance_m(hit.lon, hit.lat, p.x, p.y) < 0.001
    # the classic mistake: the same numbers read as WGS-84 land hundreds of metres away
    wrong = get_locator().locate(x, y)
    assert wrong is not None and distance_m(wrong.lon, wrong.lat, p.x, p.y) > 400


def test_batch_agrees_with_single_lookups() -> None:
    locator = get_locator()
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = 114.36, 37.96, 114.51, 38.17
    lons, lats = rng.uniform(minx, maxx, 300), rng.uniform(miny, maxy, 300)
    batch = locator.locate_many(lons, lats)
    for lon, lat, code in zip(lons, lats, batch, strict=True):
        hit = locator.locate(lon, lat)
        assert hit is not None
        assert (hit.code if hit.inside else None) == code


def test_locator_is_rebuilt_when_grids_are_redrawn() -> None:
    p = inner_point(GRID8)
    assert get_locator().locate(p.x, p.y).code == GRID8  # type: ignore[union-attr]
    data = export_grids(Grid.objects.filter(village_id="130104008019", effective_to=None))
    square = box(p.x - 2e-4, p.y - 2e-4, p.x + 2e-4, p.y + 2e-4).intersection(
        polygon_from_geojson(Grid.objects.get(code=GRID8, effective_to=None).boundary)
    )
    data["features"].append(
        {
            "type": "Feature",
            "geometry": mapping(square),
            "properties": {
                "code": "130104008019098",
                "name": "新建市场",
                "kind": "dedicated",
                "dedicated_type": "market",
            },
        }
    )
    do_import_grids(data)
    assert get_locator().locate(p.x, p.y).code == "130104008019098"  # type: ignore[union-attr]


def test_cli_prints_the_code_first() -> None:
    p = inner_point(GRID8)
    out = StringIO()
    call_command("locate", str(p.x), str(p.y), stdout=out)
    assert out.getvalue().split("\t")[0] == GRID8
    gx, gy = from_wgs84(p.x, p.y, "bd09")
    out = StringIO()
    call_command("locate", str(gx), str(gy), "--crs", "bd09", stdout=out)
    assert out.getvalue().startswith(GRID8 + "\t")
    out = StringIO()
    call_command("locate", "116.397", "39.909", stdout=out)
    code, *_rest, last = out.getvalue().strip().split("\t")
    assert len(code) == 15 and last.startswith("outside, nearest at")


def test_api_locate_is_scoped() -> None:
    from django.test import Client

    p = inner_point(GRID8)
    inside = Client()
    inside.force_login(user_with_post("operator", "130104008"))
    body = inside.get(f"/api/v1/locate?lon={p.x}&lat={p.y}").json()
    assert body["code"] == GRID8 and body["inside"] is True
    outside = Client()
    outside.force_login(user_with_post("operator", "130105"))
    assert outside.get(f"/api/v1/locate?lon={p.x}&lat={p.y}").status_code == 404
    bad = inside.get("/api/v1/locate?lon=abc&lat=95&crs=utm")
    assert bad.status_code == 422
