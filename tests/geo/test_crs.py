"""Coordinate systems: known published pairs and a millimetre-level inverse."""

from __future__ import annotations

import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.geo.crs import (
    distance_m,
    from_wgs84,
    gcj02_to_bd09,
    to_wgs84,
    wgs84_to_gcj02,
)

# (wgs lon, wgs lat, gcj lon, gcj lat) from the eviltransform test suite (Shanghai, Shenzhen,
# Beijing), which matches the GCJ-02 reference implementation.
WGS_GCJ = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]
# (gcj lon, gcj lat, bd lon, bd lat) from the coordtransform and gcoord test suites.
GCJ_BD = [
    (116.404, 39.915, 116.41036949371029, 39.92133699351021),
    (123.0, 45.0, 123.00636499, 45.00636899),
]

china_lon = st.floats(min_value=74.0, max_value=134.0)
china_lat = st.floats(min_value=18.0, max_value=53.0)


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_known_pairs(
    lon: float, lat: float, glon: float, glat: float
) -> None:
    x, y = wgs84_to_gcj02(lon, lat)
    assert distance_m(x, y, glon, glat) < 0.001


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), WGS_GCJ)
def test_gcj02_inverse_recovers_wgs84_to_a_millimetre(
    lon: float, lat: float, glon: float, glat: float
) -> None:
    x, y = to_wgs84(glon, glat, "gcj02")
    assert distance_m(x, y, lon, lat) < 0.001
    # the usual one-step inverse is metres off; ours is not that one
    rough = prcoords.gcj_wgs((glat, glon))
    assert distance_m(rough.lon, rough.lat, lon, lat) > 0.1


@pytest.mark.parametrize(("glon", "glat", "blon", "blat"), GCJ_BD)
def test_gcj02_to_bd09_matches_known_pairs(
    glon: float, glat: float, blon: float, blat: float
) -> None:
    x, y = gcj02_to_bd09(glon, glat)
    assert abs(x - blon) < 1e-7 and abs(y - blat) < 1e-7


@settings(max_examples=300, deadline=None)
@given(lon=china_lon, lat=china_lat, crs=st.sampled_from(["gcj02", "bd09"]))
def test_round_trip_is_millimetre_exact(lon: float, lat: float, crs: str) -> None:
    x, y = to_wgs84(*from_wgs84(lon, lat, crs), crs)
    assert distance_m(x, y, lon, lat) < 0.001


def test_shijiazhuang_offsets_are_as_documented() -> None:
    lon, lat = 114.514, 38.042  # the city centre
    assert 450 < distance_m(lon, lat, *from_wgs84(lon, lat, "gcj02")) < 650
    assert 1000 < distance_m(lon, lat, *from_wgs84(lon, lat, "bd09")) < 1500


def test_outside_china_is_left_alone() -> None:
    assert to_wgs84(2.35, 48.85, "gcj02") == (2.35, 48.85)
    assert from_wgs84(2.35, 48.85, "gcj02") == (2.35, 48.85)
