"""Street travel times from the demo cities' OSM extracts: never faster than the straight line,
and never a street time for a point outside a network."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.settings import PROJECT_ROOT
from geo.distance import haversine_m
from geo.roads import RoadNetworksTravel, RoadNetworkTravel
from geo.travel import StraightLineTravel, path_through, speed_of

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


ZHUBEI = PROJECT_ROOT / "data" / "osm" / "zhubei.osm.bz2"
IN_TAICHUNG = [(24.1852, 120.6126), (24.1817, 120.6018), (24.1876, 120.5956)]
IN_ZHUBEI = [(24.8350, 121.0184), (24.8282, 121.0169), (24.8437, 121.0156)]
# the extracts' surroundings, a few kilometres beyond their streets on every side
around_cities = st.one_of(
    st.tuples(st.floats(24.15, 24.21), st.floats(120.57, 120.64)),
    st.tuples(st.floats(24.78, 24.87), st.floats(120.93, 121.07)),
)


@pytest.fixture(scope="module")
def zhubei(tmp_path_factory: pytest.TempPathFactory) -> RoadNetworkTravel:
    return RoadNetworkTravel.from_osm(ZHUBEI, cache_dir=tmp_path_factory.mktemp("roads"))


@pytest.fixture(scope="module")
def cities(roads: RoadNetworkTravel, zhubei: RoadNetworkTravel) -> RoadNetworksTravel:
    return RoadNetworksTravel([roads, zhubei])


def test_a_point_far_from_a_network_gets_no_street_time_from_it(roads: RoadNetworkTravel) -> None:
    """Half a metre apart in Zhubei, on Taichung's network: straight lines, not hours of ride."""
    a, b = IN_ZHUBEI[0], (IN_ZHUBEI[0][0] + 0.5 / 111_320, IN_ZHUBEI[0][1])
    assert roads.seconds(a, b, vehicle="e-bike") == StraightLineTravel().seconds(
        a, b, vehicle="e-bike"
    )
    assert roads.matrix_seconds([a, b], vehicle="e-bike") == [[0, 0], [0, 0]]
    assert roads.path(a, b, vehicle="e-bike") == [a, b]
    # one end inside, the other 3 km out of the extract: the straight-line model too
    inside, outside = IN_TAICHUNG[0], (24.2120, 120.6126)
    assert roads.seconds(inside, outside, vehicle="car") == pytest.approx(
        StraightLineTravel().seconds(inside, outside, vehicle="car")
    )


@pytest.mark.parametrize("vehicle", ["walk", "e-bike"])
def test_each_city_rides_its_own_streets(
    cities: RoadNetworksTravel, roads: RoadNetworkTravel, zhubei: RoadNetworkTravel, vehicle: str
) -> None:
    """A pair in Taichung takes Taichung's network, a pair in Zhubei Zhubei's."""
    for network, points in ((roads, IN_TAICHUNG), (zhubei, IN_ZHUBEI)):
        a, b = points[0], points[1]
        assert cities.seconds(a, b, vehicle=vehicle) == network.seconds(a, b, vehicle=vehicle)
        assert cities.path(a, b, vehicle=vehicle) == network.path(a, b, vehicle=vehicle)
        assert len(cities.path(a, b, vehicle=vehicle)) > 2
    owners = cities.network_of([*IN_TAICHUNG, *IN_ZHUBEI, (25.03, 121.56)], vehicle=vehicle)
    assert owners.tolist() == [0, 0, 0, 1, 1, 1, -1]  # the last: Taipei, in neither


def test_across_cities_and_outside_every_network_are_straight_lines(
    cities: RoadNetworksTravel,
) -> None:
    """Taichung to Zhubei, or to a point in no network: the straight-line model's time and way."""
    straight = StraightLineTravel()
    taipei = (25.03, 121.56)
    for a, b in ((IN_TAICHUNG[0], IN_ZHUBEI[0]), (IN_ZHUBEI[1], taipei), (taipei, taipei)):
        assert cities.seconds(a, b, vehicle="car") == straight.seconds(a, b, vehicle="car")
        assert cities.path(a, b, vehicle="car") == [a, b]


def test_matrix_groups_points_by_network(
    cities: RoadNetworksTravel, roads: RoadNetworkTravel, zhubei: RoadNetworkTravel
) -> None:
    """Mixed points: each city's block is its network's matrix, the rest straight lines."""
    points = [IN_ZHUBEI[0], IN_TAICHUNG[0], (25.03, 121.56), IN_ZHUBEI[1], IN_TAICHUNG[1]]
    matrix = cities.matrix_seconds(points, vehicle="scooter")
    straight = StraightLineTravel().matrix_seconds(points, vehicle="scooter")
    taichung = roads.matrix_seconds([points[1], points[4]], vehicle="scooter")
    zhu = zhubei.matrix_seconds([points[0], points[3]], vehicle="scooter")
    for i, j in itertools.product(range(len(points)), repeat=2):
        if {i, j} <= {1, 4}:
            assert matrix[i][j] == taichung[i // 4][j // 4]
        elif {i, j} <= {0, 3}:
            assert matrix[i][j] == zhu[i // 3][j // 3]
        else:
            assert matrix[i][j] == straight[i][j]


@settings(max_examples=150, deadline=None)
@given(around_cities, around_cities, vehicles)
def test_two_cities_never_beat_the_beeline_and_stay_finite(
    cities: RoadNetworksTravel, a: tuple[float, float], b: tuple[float, float], vehicle: str
) -> None:
    """Anywhere in or around either city: a finite time, never below the beeline at that speed,
    and the matrix agrees with the single query."""
    seconds = cities.seconds(a, b, vehicle=vehicle)
    assert math.isfinite(seconds)
    assert seconds >= STRAIGHT.seconds(a, b, vehicle=vehicle) - 1e-6
    if a != b:
        assert abs(cities.matrix_seconds([a, b], vehicle=vehicle)[0][1] - seconds) <= 0.5 + 1e-6
    # an end outside every network: exactly the straight-line model
    if (cities.network_of([a, b], vehicle=vehicle) < 0).any():
        assert seconds == StraightLineTravel().seconds(a, b, vehicle=vehicle)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(lats, lngs), min_size=2, max_size=5))
def test_a_way_through_stops_is_its_legs_joined(
    roads: RoadNetworkTravel, stops: list[tuple[float, float]]
) -> None:
    """The way through several stops (a courier's route on the map) is each leg's street path,
    each joint once: it starts and ends at the route's ends and passes every stop in order."""
    way = path_through(roads, stops, vehicle="e-bike")
    legs = [roads.path(a, b, vehicle="e-bike") for a, b in itertools.pairwise(stops)]
    assert way[0] == stops[0] and way[-1] == stops[-1]
    assert len(way) == 1 + sum(len(leg) - 1 for leg in legs)  # each joint once
    rest = iter(way)
    assert all(any(point == stop for point in rest) for stop in stops)  # every stop, in order
