"""The store as a typed value: what the catalogue holds and the nearby search returns."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.distance import check_latlng, haversine_m
from geo.hours import OpeningHours, parse_opening_hours
from geo.zones import ZoneError, zone_covers, zone_from_geojson, zone_geometry

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

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
    # GeoJSON Polygon/MultiPolygon text (geo.zones): where set, it replaces the radius
    delivery_zone: str | None = None
    hours: OpeningHours | None = field(default=None, init=False, compare=False, repr=False)
    zone_area: BaseGeometry | None = field(default=None, init=False, compare=False, repr=False)

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
        if self.delivery_zone is not None:
            try:
                canonical = zone_from_geojson(
                    self.delivery_zone, store_lat=self.lat, store_lng=self.lng
                )
            except ZoneError as exc:
                msg = f"delivery_zone: {exc}"
                raise ValueError(msg) from exc
            object.__setattr__(self, "delivery_zone", canonical)
            object.__setattr__(self, "zone_area", zone_geometry(canonical))

    def delivers_to(self, lat: float, lng: float, *, distance_m: float | None = None) -> bool:
        """True when the point is in the store's delivery zone, or, without a zone, within its
        delivery radius (``distance_m``: the haversine distance, when the caller has it)."""
        if self.zone_area is not None:
            return zone_covers(self.zone_area, lat, lng)
        if distance_m is None:
            distance_m = haversine_m(self.lat, self.lng, lat, lng)
        return distance_m <= self.delivery_radius_m

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
        for name in _ALWAYS_RECORDED:
            object.__setattr__(store, name, record[name])
        hours = record["opening_hours"]
        object.__setattr__(store, "hours", None if hours is None else parse_opening_hours(hours))
        zone = record.get("delivery_zone")  # absent from records written before zones
        object.__setattr__(store, "delivery_zone", zone)
        object.__setattr__(store, "zone_area", None if zone is None else zone_geometry(zone))
        return store


@functools.lru_cache(maxsize=1024)
def is_known_timezone(name: str) -> bool:
    """True for an IANA zone name this machine knows (tzdata is a dependency)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


RECORD_FIELDS = tuple(f.name for f in fields(Store) if f.init)
_ALWAYS_RECORDED = tuple(name for name in RECORD_FIELDS if name != "delivery_zone")
