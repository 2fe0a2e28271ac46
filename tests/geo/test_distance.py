"""Distances: agreement with the textbook haversine, known figures, scalar/vector identity."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from geo.distance import (
    EARTH_RADIUS_M,
    haversine_m,
    haversine_m_many,
    haversine_of_vector_pair,
    haversine_of_vectors,
    haversine_to_m,
    latlng_to_unit_vector,
    latlngs_to_unit_vectors,
    m_to_haversine,
)

lats = st.floats(-90, 90, allow_nan=False)
lngs = st.floats(-180, 180, allow_nan=False)


def textbook_haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@given(lats, lngs, lats, lngs)
def test_agrees_with_textbook_haversine(a: float, b: float, c: float, d: float) -> None:
    """The chord form equals the sin/cos form to well under a millimetre."""
    assert math.isclose(haversine_m(a, b, c, d), textbook_haversine_m(a, b, c, d), abs_tol=1e-3)


def test_known_distances() -> None:
    """Taipei Main to Taichung Station: ~131.5 km as the crow flies; 1 degree: ~111.2 km."""
    assert 131_000 < haversine_m(25.0478, 121.5170, 24.1372, 120.6869) < 132_000
    assert math.isclose(haversine_m(0, 0, 1, 0), math.pi / 180 * EARTH_RADIUS_M, rel_tol=1e-12)
    assert haversine_m(10, 20, 10, 20) == 0.0
    assert math.isclose(haversine_m(0, 0, 0, 180), math.pi * EARTH_RADIUS_M, rel_tol=1e-12)


def test_across_the_antimeridian() -> None:
    """Two points either side of 180 degrees are close, not half a world apart."""
    assert haversine_m(-18.1, 179.99, -18.1, -179.99) < 2_200


@given(st.lists(st.tuples(lats, lngs), min_size=1, max_size=40), lats, lngs)
def test_vectorised_is_bit_identical_to_scalar(
    points: list[tuple[float, float]], lat: float, lng: float
) -> None:
    """The numpy path and the scalar path give the very same floats, wherever a point sits."""
    vectors = latlngs_to_unit_vectors([p[0] for p in points], [p[1] for p in points])
    origin = latlng_to_unit_vector(lat, lng)
    many = haversine_of_vectors(origin, vectors)
    for i, (plat, plng) in enumerate(points):
        single = haversine_of_vector_pair(origin, latlng_to_unit_vector(plat, plng))
        assert many[i] == single
        assert haversine_to_m(single) == haversine_m(lat, lng, plat, plng)


@given(st.floats(0, 20_000_000))
def test_metres_round_trip_through_haversine(metres: float) -> None:
    """m_to_haversine inverts haversine_to_m."""
    assert math.isclose(haversine_to_m(m_to_haversine(metres)), metres, abs_tol=1e-6)


def test_many_matches_single() -> None:
    """The analytics helper agrees with the scalar function."""
    lats_ = np.array([24.18, 24.19, -33.9])
    lngs_ = np.array([120.6, 120.61, 151.2])
    many = haversine_m_many(24.185, 120.605, lats_, lngs_)
    for i in range(3):
        assert math.isclose(
            many[i], haversine_m(24.185, 120.605, lats_[i], lngs_[i]), rel_tol=1e-12
        )
