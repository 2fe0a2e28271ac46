"""Travel times between points: the one interface matching and routing use.

The default model is the great-circle distance stretched by a circuity factor (streets are not
straight) at a steady speed per vehicle type. A road-network model can stand in later behind the
same :class:`TravelModel` protocol.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from geo.distance import haversine_m, haversine_m_many

# Typical urban door-to-door speeds, metres per second.
VEHICLE_SPEEDS_MPS = {
    "walk": 1.3,
    "bicycle": 4.0,
    "e-bike": 5.0,
    "scooter": 6.5,
    "car": 7.0,
}
DEFAULT_VEHICLE = "e-bike"
DEFAULT_CIRCUITY = 1.35  # road distance over straight-line distance in dense cities


LatLng = tuple[float, float]


class TravelModel(Protocol):
    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        """Travel time in seconds from ``a`` to ``b`` (each ``(lat, lng)``)."""
        ...

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        """Whole seconds between every pair of ``points``, as routing needs them."""
        ...

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        """The way from ``a`` to ``b`` as a polyline (for a courier's map), ends included."""
        ...


@dataclass(frozen=True, slots=True)
class StraightLineTravel:
    """Great-circle distance times a circuity factor, at the vehicle's speed."""

    circuity: float = DEFAULT_CIRCUITY

    def __post_init__(self) -> None:
        if self.circuity < 1.0:
            msg = "circuity must be at least 1 (a road is never shorter than a straight line)"
            raise ValueError(msg)

    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        return haversine_m(a[0], a[1], b[0], b[1]) * self.circuity / speed_of(vehicle)

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        speed_of(vehicle)  # the same refusal of unknown vehicles as the other queries
        return [a, b]  # no streets known: the courier sees the direction to go

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        factor = self.circuity / speed_of(vehicle)
        lats = np.array([p[0] for p in points], dtype=np.float64)
        lngs = np.array([p[1] for p in points], dtype=np.float64)
        return [
            np.rint(haversine_m_many(lat, lng, lats, lngs) * factor).astype(int).tolist()
            for lat, lng in points
        ]


def speed_of(vehicle: str) -> float:
    """Metres per second of a vehicle type; ValueError naming the known ones otherwise."""
    speed = VEHICLE_SPEEDS_MPS.get(vehicle)
    if speed is None:
        msg = f"unknown vehicle {vehicle!r}; use one of {', '.join(VEHICLE_SPEEDS_MPS)}"
        raise ValueError(msg)
    return speed


def path_through(travel: TravelModel, points: Sequence[LatLng], *, vehicle: str) -> list[LatLng]:
    """The way through ``points`` in order, each leg by ``travel.path``, every joint once."""
    way: list[LatLng] = list(points[:1])
    for a, b in itertools.pairwise(points):
        way += travel.path(a, b, vehicle=vehicle)[1:]
    return way
