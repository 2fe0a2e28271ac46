"""Travel times: straight line times circuity at the vehicle's speed, as singles and matrices."""

from __future__ import annotations

import pytest

from geo.travel import StraightLineTravel

TRAVEL = StraightLineTravel()


def test_travel_is_never_shorter_than_the_straight_line() -> None:
    """The circuity factor only lengthens a trip; an unknown vehicle is an error."""
    with pytest.raises(ValueError, match="circuity"):
        StraightLineTravel(circuity=0.9)
    with pytest.raises(ValueError, match="vehicle"):
        TRAVEL.seconds((0, 0), (0, 1), vehicle="rocket")
    assert TRAVEL.seconds((24.18, 120.6), (24.19, 120.6), vehicle="walk") > TRAVEL.seconds(
        (24.18, 120.6), (24.19, 120.6), vehicle="car"
    )


def test_matrix_agrees_with_single_queries() -> None:
    """Each matrix entry is the single query rounded to a second; the diagonal is zero."""
    points = [(24.18, 120.60), (24.19, 120.61), (24.185, 120.595), (25.03, 121.56)]
    for vehicle in ("walk", "e-bike", "car"):
        matrix = TRAVEL.matrix_seconds(points, vehicle=vehicle)
        for i, a in enumerate(points):
            assert matrix[i][i] == 0
            for j, b in enumerate(points):
                assert abs(matrix[i][j] - TRAVEL.seconds(a, b, vehicle=vehicle)) <= 0.5 + 1e-6
                assert matrix[i][j] == matrix[j][i]
