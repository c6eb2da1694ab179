"""The demo city: real Shijiazhuang codes, synthetic grids that obey the grid rules."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from gridgov.accounts.models import User
from gridgov.demo import city as demo
from gridgov.demo import generator
from gridgov.regions.models import Grid, Region


def test_divisions_are_shijiazhuangs_real_ones() -> None:
    levels = Counter(d.level for d in generator.divisions())
    assert levels[3] == 24  # 22 districts, counties and county-level cities + 2 zones
    assert levels[4] == 280
    assert levels[5] == 5152
    names = {d.code: d.name for d in generator.divisions()}
    assert names["130104008019"] == "汇文街社区居委会"
    assert names["130123201204"] == "韩家庄村民委员会"
    assert names["130131102"] == "温塘镇"
    assert names["130171"] == "石家庄高新技术产业开发区"


def test_county_boundaries_cover_every_county_and_dev_zones_are_synthetic() -> None:
    shapes = generator.county_shapes()
    assert len(shapes) == 24
    for code in generator.DEV_ZONES:
        geom, synthetic, source = shapes[code]
        assert synthetic and "synthetic" in source and geom.area > 0
    real = [c for c, (_, synthetic, _) in shapes.items() if not synthetic]
    assert "130123" in real  # Zhengding is untouched by the zones
    parts = [g for g, _, _ in shapes.values()]
    total = sum(g.area for g in parts)
    import shapely

    assert abs(shapely.union_all(parts).area - total) / total < 1e-6  # no overlaps


def test_generator_is_deterministic_per_county() -> None:
    a = generator.generate(["130104"])
    b = generator.generate(["130104"])
    assert [(g.code, g.boundary.wkb) for g in a.grids] == [
        (g.code, g.boundary.wkb) for g in b.grids
    ]


@pytest.mark.django_db
def test_loaded_grids_follow_the_code_rule_and_are_labelled_synthetic() -> None:
    grids = Grid.objects.filter(effective_to=None)
    assert grids.exists()
    for code, village, synthetic in grids.values_list("code", "village_id", "synthetic"):
        assert len(code) == 15 and code[:12] == village and synthetic
    assert grids.filter(village_id="130104008019", kind="base").count() >= 8
    assert grids.filter(code="130104008019008", kind="base").exists()
    assert grids.filter(kind="dedicated").exists()
    assert Region.objects.filter(level=5, boundary_synthetic=True).exists()


@pytest.mark.django_db
def test_demo_is_idempotent_and_prints_accounts() -> None:
    users, grids = User.objects.count(), Grid.objects.count()
    out = StringIO()
    call_command("demo", "--county", "130104", stdout=out)
    assert (User.objects.count(), Grid.objects.count()) == (users, grids)
    text = out.getvalue()
    assert "+0 grids" in text and "huiwen_gw8" in text and demo.demo_password() in text


@pytest.mark.django_db
def test_home_page_says_the_grids_are_synthetic_in_chinese_first_english_second() -> None:
    from django.test import Client

    zh = Client().get("/").content.decode()
    assert "网格化服务管理平台" in zh and "均为合成数据" in zh
    en = Client(HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    assert "Grid-based social governance platform" in en and "are synthetic" in en


@pytest.mark.slow
def test_whole_city_has_about_ten_thousand_base_grids_inside_their_villages() -> None:
    city = generator.generate()
    base = [g for g in city.grids if g.kind == "base"]
    assert 9_500 <= len(base) <= 11_000  # the real city has 10,338
    villages = {r.code: r.boundary for r in city.regions if r.level == 5}
    assert {g.village for g in city.grids} == set(villages)  # every village has grids
    from gridgov.geo.geometry import significant_area_m2

    for g in city.grids[::25]:
        assert significant_area_m2(g.boundary.difference(villages[g.village])) == 0
