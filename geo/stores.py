"""The store as a typed value: what the catalogue holds and the nearby search returns."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.distance import check_latlng
from geo.hours import OpeningHours, parse_opening_hours

STORE_KINDS = ("convenience", "supermarket", "grocery", "pharmacy")

DEFAULT_TIMEZONE = "UTC"
DEFAULT_PREP_TIME_S = 300
DEFAULT_CAPACITY_PER_HOUR = 30
DEFAULT_DELIVERY_RADIUS_M = 5000.0
MAX_ID_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Store:
    """A partner (or non-partner) store; distances in metres, times in seconds."""

    id: str
    name: str
    brand: str
    kind: str
    partner: bool
    lat: float
    lng: float
    address: str = ""
    opening_hours: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    prep_time_s: int = DEFAULT_PREP_TIME_S
    capacity_per_hour: int = DEFAULT_CAPACITY_PER_HOUR
    delivery_radius_m: float = DEFAULT_DELIVERY_RADIUS_M
    hours: OpeningHours | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > MAX_ID_LENGTH:
            msg = f"id must be 1 to {MAX_ID_LENGTH} characters"
            raise ValueError(msg)
        if not self.name:
            msg = "name must not be empty"
            raise ValueError(msg)
        if self.kind not in STORE_KINDS:
            msg = f"kind must be one of {', '.join(STORE_KINDS)}"
            raise ValueError(msg)
        check_latlng(self.lat, self.lng)
        if self.prep_time_s < 0:
            msg = "prep_time_s must not be negative"
            raise ValueError(msg)
        if self.capacity_per_hour <= 0:
            msg = "capacity_per_hour must be positive"
            raise ValueError(msg)
        if not (math.isfinite(self.delivery_radius_m) and self.delivery_radius_m > 0):
            msg = "delivery_radius_m must be a positive number"
            raise ValueError(msg)
        if not is_known_timezone(self.timezone):
            msg = f"timezone: unknown time zone {self.timezone!r}"
            raise ValueError(msg)
        # Derived here (parses are cached) so open/closed checks are cheap interval tests, and a
        # dataclasses.replace() with new hours cannot keep the old parse.
        parsed = None if self.opening_hours is None else parse_opening_hours(self.opening_hours)
        object.__setattr__(self, "hours", parsed)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-ready fields (the parsed hours are derived, so left out)."""
        return {name: getattr(self, name) for name in RECORD_FIELDS}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Store:
        """Inverse of :meth:`to_record`."""
        return cls(**record)

    @classmethod
    def from_checked_record(cls, record: dict[str, Any]) -> Store:
        """Inverse of :meth:`to_record` for a record written from a store, so already checked:
        a saved index makes its stores this way, a few at a time, when a query returns them."""
        store = object.__new__(cls)
        for name in RECORD_FIELDS:
            object.__setattr__(store, name, record[name])
        hours = record["opening_hours"]
        object.__setattr__(store, "hours", None if hours is None else parse_opening_hours(hours))
        return store


@functools.lru_cache(maxsize=1024)
def is_known_timezone(name: str) -> bool:
    """True for an IANA zone name this machine knows (tzdata is a dependency)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


RECORD_FIELDS = tuple(f.name for f in fields(Store) if f.name != "hours")
