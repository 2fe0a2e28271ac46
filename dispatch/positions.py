"""Where couriers are: the last good location fix of each, and the rule that refuses bad fixes.

Stored by :mod:`dispatch.storage.positions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch.couriers import CourierProfile
from geo.travel import LatLng

MAX_SPEED_MPS = 50.0  # 180 km/h: a ping implying more is a bad fix, not a courier


@dataclass(frozen=True, slots=True)
class Ping:
    """A courier's position at a moment, as its phone (or a dispatcher) reported it."""

    lat: float
    lng: float
    at: datetime

    def to_record(self) -> dict[str, Any]:
        return {"lat": self.lat, "lng": self.lng, "at": self.at.isoformat()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Ping:
        return cls(record["lat"], record["lng"], datetime.fromisoformat(record["at"]))


def ping_record(ping: Ping | None) -> dict[str, Any] | None:
    """A position as the API shows it (null for a courier never heard from)."""
    return None if ping is None else ping.to_record()


def position_of(courier: CourierProfile, pings: Mapping[str, Ping]) -> LatLng:
    """Where a courier is: its last fix, else where its shift starts."""
    ping = pings.get(courier.id)
    return (ping.lat, ping.lng) if ping else (courier.home_lat, courier.home_lng)
