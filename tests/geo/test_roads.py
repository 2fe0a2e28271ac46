"""Street travel times from the Taichung OSM extract: never faster than the straight line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import haversine_m
from geo.roads import RoadNetworkTravel
from geo.travel import StraightLineTravel, speed_of
from web.settings import PROJECT_ROOT

EXTRACT = PROJECT_ROOT / "data" / "osm" / "taichung_xitun.osm.bz2"
STRAIGHT = StraightLineTravel(circuity=1.0)
# the extract's bounding box
lats = st.floats(24.1776, 24.1887)
lngs = st.floats(120.5920, 120.6134)
vehicles = st.sampled_from(["walk", "bicycle", "e-bike", "car"])


@pytest.fixture(scope="module")
def roads(tmp_path_factory: pytest.TempPathFactory) -> RoadNetworkTravel:
    return RoadNetworkTravel.from_osm(EXTRACT, cache_dir=tmp_path_factory.mktemp("roads"))


@settings(max_examples=100, deadline=None)
@given(lats, lngs, lats, lngs, vehicles)
def test_road_is_never_faster_than_the_straight_line(
    roads: RoadNetworkTravel, a: float, b: float, c: float, d: float, vehicle: str
) -> None:
    """Same speed, streets instead of a beeline: never shorter."""
    road = roads.seconds((a, b), (c, d), vehicle=vehicle)
    assert road >= STRAIGHT.seconds((a, b), (c, d), vehicle=vehicle) - 1e-6


def test_matrix_agrees_with_single_queries(roads: RoadNetworkTravel) -> None:
    """Each matrix entry is the single query rounded to a second."""
    points = [(24.1852, 120.6126), (24.1817, 120.6018), (24.1876, 120.5956), (24.1800, 120.6100)]
    for vehicle in ("walk", "e-bike"):
        matrix = roads.matrix_seconds(points, vehicle=vehicle)
        for i, a in enumerate(points):
            assert matrix[i][i] == 0
            for j, b in enumerate(points):
                if i != j:
                    assert abs(matrix[i][j] - roads.seconds(a, b, vehicle=vehicle)) <= 0.5 + 1e-6


def test_streets_are_longer_than_a_beeline_here(roads: RoadNetworkTravel) -> None:
    """Across the district by e-bike: a real detour (between 1.05x and 3x the straight line)."""
    a, b = (24.1852, 120.6126), (24.1817, 120.6018)
    ratio = roads.seconds(a, b, vehicle="e-bike") / STRAIGHT.seconds(a, b, vehicle="e-bike")
    assert 1.05 < ratio < 3.0


def test_the_network_is_cached_on_disk(tmp_path: Path) -> None:
    """The second start reads the cache and gives the same answers."""
    first = RoadNetworkTravel.from_osm(EXTRACT, cache_dir=tmp_path)
    assert list(tmp_path.glob("*.pickle"))
    second = RoadNetworkTravel.from_osm(EXTRACT, cache_dir=tmp_path)
    a, b = (24.1852, 120.6126), (24.1817, 120.6018)
    assert first.seconds(a, b, vehicle="car") == second.seconds(a, b, vehicle="car")


def test_a_path_follows_the_streets_from_end_to_end(roads: RoadNetworkTravel) -> None:
    a, b = (24.1800, 120.5930), (24.1880, 120.6080)
    path = roads.path(a, b, vehicle="e-bike")
    assert path[0] == a and path[-1] == b and len(path) > 3
    along = sum(haversine_m(*p, *q) for p, q in itertools.pairwise(path))
    # between the beeline and the street length the time was made from (curves drawn straight)
    metres = roads.seconds(a, b, vehicle="e-bike") * speed_of("e-bike")
    assert haversine_m(*a, *b) * 1.05 < along <= metres + 1e-6
