"""Grid import: every problem reported at once, a bad file changes nothing, redraws keep history."""

from __future__ import annotations

import copy
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import shapely
from django.core.management import CommandError, call_command
from shapely.geometry import box, mapping

from gridgov.geo.crs import from_wgs84
from gridgov.geo.geometry import polygon_from_geojson
from gridgov.regions import grid_import
from gridgov.regions.models import Grid, GridRevision
from gridgov.regions.services import do_import_grids, export_grids
from gridgov.regions.signals import grids_redrawn

pytestmark = pytest.mark.django_db

HUIWEN = "130104008019"


def huiwen_file() -> dict[str, Any]:
    return export_grids(Grid.objects.filter(village_id=HUIWEN, effective_to=None))


def snapshot() -> tuple[int, int, list[tuple[str, Any]]]:
    current = Grid.objects.filter(effective_to=None).order_by("code")
    return (
        GridRevision.objects.count(),
        Grid.objects.count(),
        list(current.filter(village_id=HUIWEN).values_list("code", "boundary")),
    )


def rejected(data: Any, **kw: Any) -> list[grid_import.Problem]:
    before = snapshot()
    with pytest.raises(grid_import.ImportRejected) as err:
        do_import_grids(data, **kw)
    assert snapshot() == before, "a rejected file must change nothing"
    return err.value.problems


def inner_box(code: str, shrink: float = 0.3) -> dict[str, Any]:
    grid = Grid.objects.get(code=code, effective_to=None)
    poly = polygon_from_geojson(grid.boundary)
    c = poly.representative_point()
    minx, miny, maxx, maxy = poly.bounds
    w, h = (maxx - minx) * shrink / 4, (maxy - miny) * shrink / 4
    return dict(mapping(box(c.x - w, c.y - h, c.x + w, c.y + h).intersection(poly)))


def test_valid_reimport_creates_a_new_version_and_keeps_history() -> None:
    received: list[dict[str, Any]] = []

    def on_redraw(sender: Any, **kw: Any) -> None:
        received.append(kw)

    grids_redrawn.connect(on_redraw)
    try:
        old = {g.code: g.pk for g in Grid.objects.filter(village_id=HUIWEN, effective_to=None)}
        revision = do_import_grids(huiwen_file(), source="test")
    finally:
        grids_redrawn.disconnect(on_redraw)
    new = {g.code: g.pk for g in Grid.objects.filter(village_id=HUIWEN, effective_to=None)}
    assert set(new) == set(old) and not set(new.values()) & set(old.values())
    ended = Grid.objects.filter(pk__in=old.values())
    assert all(g.effective_to is not None for g in ended)  # history kept, not deleted
    assert revision.grid_count == len(new)
    assert received and received[0]["ended"] == {pk: code for code, pk in old.items()}
    assert received[0]["created"] == new
    # other villages were not touched
    assert Grid.objects.filter(effective_to__isnull=False).exclude(village_id=HUIWEN).count() == 0


def test_bad_code_format_and_unknown_village() -> None:
    data = huiwen_file()
    data["features"][0]["properties"]["code"] = "13010400801900A"
    data["features"][1]["properties"]["code"] = "999999999999001"
    problems = rejected(data)
    assert [(p.feature, p.field) for p in problems] == [(1, "code"), (2, "code")]
    assert "15 digits" in problems[0].message
    assert "999999999999 is not an existing village" in problems[1].message


def test_self_intersecting_polygon() -> None:
    data = huiwen_file()
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[114.40, 38.02], [114.41, 38.03], [114.41, 38.02], [114.40, 38.03], [114.40, 38.02]]
        ],
    }
    data["features"][2]["geometry"] = bow_tie
    problems = rejected(data)
    assert len(problems) == 1 and problems[0].feature == 3
    assert "Self-intersection" in problems[0].message


def test_malformed_and_non_polygon_geometry() -> None:
    data = huiwen_file()
    data["features"][0]["geometry"] = {"type": "Point", "coordinates": [114.4, 38.0]}
    data["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [[[114.4, 38.0]]]}
    problems = rejected(data)
    assert [p.feature for p in problems] == [1, 2]
    assert "Polygon or MultiPolygon" in problems[0].message
    assert "malformed" in problems[1].message


def test_grid_outside_its_village() -> None:
    data = huiwen_file()
    other = Grid.objects.filter(code__startswith="130105", effective_to=None).first()
    assert other is not None
    data["features"][0]["geometry"] = other.boundary  # a shape from another county
    problems = rejected(data)
    assert any(p.feature == 1 and "outside its village" in p.message for p in problems)


def test_overlapping_base_grids() -> None:
    data = huiwen_file()
    second = polygon_from_geojson(data["features"][1]["geometry"])
    first = polygon_from_geojson(data["features"][0]["geometry"])
    data["features"][0]["geometry"] = mapping(first.union(second.buffer(-1e-5)))
    problems = rejected(data)
    assert any("overlaps feature 2" in p.message for p in problems)


def test_overlap_with_a_grid_the_file_keeps() -> None:
    # A new grid in Huiwen's neighbour that covers part of a current Huiwen grid.
    grid8 = Grid.objects.get(code="130104008019008", effective_to=None)
    village = (
        Grid.objects.filter(village__parent_id="130104008", effective_to=None)
        .exclude(village_id=HUIWEN)
        .first()
    )
    assert village is not None
    feature = {
        "type": "Feature",
        "properties": {"code": village.village_id + "099", "name": "越界网格"},
        "geometry": inner_box(grid8.code),
    }
    problems = rejected({"type": "FeatureCollection", "features": [feature]})
    messages = " ".join(p.message for p in problems)
    assert "current grid 130104008019008" in messages
    assert "outside its village" in messages


def test_dedicated_grids_may_overlap_base_grids() -> None:
    data = huiwen_file()
    data["features"].append(
        {
            "type": "Feature",
            "properties": {
                "code": HUIWEN + "099",
                "name": "测试学校",
                "kind": "dedicated",
                "dedicated_type": "school",
            },
            "geometry": inner_box(HUIWEN + "008"),
        }
    )
    do_import_grids(data)
    assert Grid.objects.get(code=HUIWEN + "099", effective_to=None).kind == "dedicated"


def test_duplicate_codes() -> None:
    data = huiwen_file()
    data["features"][3]["properties"]["code"] = data["features"][0]["properties"]["code"]
    problems = rejected(data)
    assert any(p.feature == 4 and "duplicate of feature 1" in p.message for p in problems)


def test_wrong_crs_and_projected_coordinates() -> None:
    data = huiwen_file()
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    problems = rejected(data)
    assert problems[0].feature is None and problems[0].field == "crs"
    assert "not WGS-84" in problems[0].message
    data = huiwen_file()
    data["features"][0]["geometry"] = mapping(box(12735000, 4580000, 12736000, 4581000))
    problems = rejected(data)
    assert "not WGS-84 longitude/latitude" in problems[0].message


def test_bad_properties_and_not_a_feature_collection() -> None:
    data = huiwen_file()
    data["features"][0]["properties"]["population"] = -3
    data["features"][1]["properties"]["name"] = ""
    data["features"][2]["properties"]["kind"] = "special"
    problems = rejected(data)
    assert {(p.feature, p.field) for p in problems} == {(1, "population"), (2, "name"), (3, "kind")}
    assert rejected({"type": "Feature"})[0].field == "type"
    assert rejected({"type": "FeatureCollection", "features": []})[0].field == "features"


def test_every_problem_is_reported_at_once() -> None:
    data = huiwen_file()
    data["features"][0]["properties"]["code"] = "bad"
    data["features"][1]["properties"]["code"] = data["features"][2]["properties"]["code"]
    data["features"][3]["geometry"] = {
        "type": "Polygon",
        "coordinates": [
            [[114.40, 38.02], [114.41, 38.03], [114.41, 38.02], [114.40, 38.03], [114.40, 38.02]]
        ],
    }
    problems = rejected(data)
    assert {p.feature for p in problems} >= {1, 3, 4}


def test_gcj02_file_is_converted_to_wgs84() -> None:
    data = huiwen_file()
    original = {
        f["properties"]["code"]: polygon_from_geojson(f["geometry"]) for f in data["features"]
    }
    gcj = copy.deepcopy(data)
    for f in gcj["features"]:
        geom = polygon_from_geojson(f["geometry"])
        f["geometry"] = mapping(
            shapely.transform(geom, lambda xy: [list(from_wgs84(x, y, "gcj02")) for x, y in xy])
        )
    do_import_grids(gcj, crs="gcj02")
    for code, geom in original.items():
        stored = polygon_from_geojson(Grid.objects.get(code=code, effective_to=None).boundary)
        assert stored.hausdorff_distance(geom) < 1e-6  # ~0.1 m: the inverse is exact


def test_cli_import_lists_problems_and_changes_nothing(tmp_path: Path) -> None:
    data = huiwen_file()
    data["features"][0]["properties"]["code"] = "123"
    data["features"][1]["properties"]["households"] = "many"
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    err = StringIO()
    before = snapshot()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("grids", "import", str(path), stderr=err)
    assert snapshot() == before
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("feature 1 (123): code:")
    assert lines[1].startswith(f"feature 2 ({HUIWEN}002): households:")


def test_cli_export_then_import_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "huiwen.geojson"
    call_command("grids", "export", str(path), "--under", HUIWEN, stderr=StringIO())
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert len(exported["features"]) >= 8
    out = StringIO()
    call_command("grids", "import", str(path), stdout=out)
    assert "imported" in out.getvalue()
    assert Grid.objects.filter(village_id=HUIWEN, effective_to__isnull=False).count() >= 8


def test_open_events_move_with_a_redrawn_grid() -> None:
    from shapely.ops import unary_union

    from gridgov.events.models import Event

    from ..eventbuilder import in_state

    event = in_state("in_progress")
    assert event.grid_code == HUIWEN + "008"
    data = huiwen_file()
    by_code = {f["properties"]["code"]: f for f in data["features"]}
    merged = unary_union(
        [polygon_from_geojson(by_code[HUIWEN + c]["geometry"]) for c in ("007", "008")]
    )
    by_code[HUIWEN + "007"]["geometry"] = mapping(merged)
    data["features"] = [f for f in data["features"] if f["properties"]["code"] != HUIWEN + "008"]
    do_import_grids(data)
    moved = Event.objects.get(pk=event.pk)
    assert moved.grid_code == HUIWEN + "007"
    entry = moved.timeline.get(action="regrid")
    assert entry.data == {"from": HUIWEN + "008", "to": HUIWEN + "007"}
    assert entry.seq == moved.version
