"""Travel times between points: the one interface matching and routing use.

The default model is the great-circle distance stretched by a circuity factor (streets are not
straight) at a steady speed per vehicle type. A road-network model can stand in later behind the
same :class:`TravelModel` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from geo.distance import haversine_m

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


class TravelModel(Protocol):
    def seconds(self, a: tuple[float, float], b: tuple[float, float], *, vehicle: str) -> float:
        """Travel time in seconds from ``a`` to ``b`` (each ``(lat, lng)``)."""
        ...


@dataclass(frozen=True, slots=True)
class StraightLineTravel:
    """Great-circle distance times a circuity factor, at the vehicle's speed."""

    circuity: float = DEFAULT_CIRCUITY

    def __post_init__(self) -> None:
        if self.circuity < 1.0:
            msg = "circuity must be at least 1 (a road is never shorter than a straight line)"
            raise ValueError(msg)

    def seconds(self, a: tuple[float, float], b: tuple[float, float], *, vehicle: str) -> float:
        speed = VEHICLE_SPEEDS_MPS.get(vehicle)
        if speed is None:
            msg = f"unknown vehicle {vehicle!r}; use one of {', '.join(VEHICLE_SPEEDS_MPS)}"
            raise ValueError(msg)
        return haversine_m(a[0], a[1], b[0], b[1]) * self.circuity / speed
