"""Delivery zones: a store's GeoJSON Polygon or MultiPolygon, used instead of its radius.

A zone is kept on the store as compact GeoJSON text (hashable, and written to Redis and to a
saved index like any other field) and parsed once per distinct text into a prepared shapely
geometry, so a catalogue version builds each zone once and a point test is a prepared
``intersects``. Coordinates are read as GeoJSON says, ``[lng, lat]`` in WGS84, with straight edges
in those degrees (RFC 7946). A point on the zone's edge is inside it.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import shapely
import shapely.errors
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geo.distance import haversine_m

ZONE_TYPES = ("Polygon", "MultiPolygon")
MAX_ZONE_VERTICES = 5000  # a street-level zone needs a few hundred; more is an untrimmed export
# Order intake looks for candidate stores within 10 km of the shopper (dispatch/intake.py): a zone
# reaching farther would promise deliveries matching could never offer.
MAX_ZONE_REACH_M = 10_000.0


class ZoneError(ValueError):
    """A delivery zone that cannot be used; the message says why, for the catalogue's report."""


def zone_from_geojson(value: Any, *, store_lat: float, store_lng: float) -> str:
    """Check a zone (a GeoJSON geometry as a mapping or as JSON text) and return its canonical
    compact text; raise :class:`ZoneError` saying what is wrong."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            msg = f"not JSON: {exc}"
            raise ZoneError(msg) from exc
    if not isinstance(value, dict):
        msg = "must be a GeoJSON Polygon or MultiPolygon object"
        raise ZoneError(msg)
    kind = value.get("type")
    if kind not in ZONE_TYPES:
        msg = f"type {str(kind)[:40]!r} is not one of {', '.join(ZONE_TYPES)}"
        raise ZoneError(msg)
    polygons = _polygon_rings(value.get("coordinates"), multi=kind == "MultiPolygon")
    vertices = 0
    for rings in polygons:
        for ring in rings:
            vertices += len(ring)
            if vertices > MAX_ZONE_VERTICES:
                msg = f"more than {MAX_ZONE_VERTICES} vertices"
                raise ZoneError(msg)
            _check_ring(ring)
    coordinates = polygons if kind == "MultiPolygon" else polygons[0]
    text = json.dumps({"type": kind, "coordinates": coordinates}, separators=(",", ":"))
    try:
        geometry = _geometry(text)
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        msg = f"not a valid polygon: {exc}"
        raise ZoneError(msg) from exc
    if geometry.is_empty:
        msg = "empty"
        raise ZoneError(msg)
    if not geometry.is_valid:
        # e.g. "Self-intersection[120.6 24.18]": GEOS names the place
        msg = f"not a valid polygon: {explain_validity(geometry)}"
        raise ZoneError(msg)
    reach = max(
        haversine_m(store_lat, store_lng, lat, lng)
        for rings in polygons
        for ring in rings
        for lng, lat in ring
    )
    if reach > MAX_ZONE_REACH_M:
        msg = f"reaches {reach:.0f} m from the store; at most {MAX_ZONE_REACH_M:.0f} m"
        raise ZoneError(msg)
    return text


def _polygon_rings(coordinates: Any, *, multi: bool) -> list[list[list[list[float]]]]:
    """The coordinates as plain lists of polygons of rings of ``[lng, lat]``; shape checked."""
    if not isinstance(coordinates, list) or not coordinates:
        msg = "coordinates must be a non-empty array"
        raise ZoneError(msg)
    polygons = coordinates if multi else [coordinates]
    plain = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            msg = "each polygon must be a non-empty array of rings"
            raise ZoneError(msg)
        rings = []
        for ring in polygon:
            if not isinstance(ring, list):
                msg = "each ring must be an array of [lng, lat] positions"
                raise ZoneError(msg)
            rings.append([_position(p) for p in ring])
        plain.append(rings)
    return plain


def _position(value: Any) -> list[float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) not in (2, 3)  # an altitude is allowed and dropped
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        msg = f"position {str(value)[:60]} is not [lng, lat]"
        raise ZoneError(msg)
    lng, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lng) and -180.0 <= lng <= 180.0):
        msg = f"longitude {value[0]} outside [-180, 180]"
        raise ZoneError(msg)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        msg = f"latitude {value[1]} outside [-90, 90]"
        raise ZoneError(msg)
    return [lng, lat]


def _check_ring(ring: list[list[float]]) -> None:
    if len(ring) < 4:
        msg = "a ring needs at least 4 positions (the last repeating the first)"
        raise ZoneError(msg)
    if ring[0] != ring[-1]:
        msg = "a ring must end where it starts"
        raise ZoneError(msg)


@functools.lru_cache(maxsize=65_536)
def _geometry(text: str) -> BaseGeometry:
    """The geometry of canonical zone text, prepared for point tests (built once per text)."""
    geometry = shape(json.loads(text))
    shapely.prepare(geometry)
    return geometry


def zone_geometry(text: str) -> BaseGeometry:
    """The prepared geometry of zone text made by :func:`zone_from_geojson`."""
    return _geometry(text)


def zone_covers(geometry: BaseGeometry, lat: float, lng: float) -> bool:
    """True when the point is inside the zone or on its edge."""
    return bool(shapely.intersects_xy(geometry, lng, lat))


def zone_to_geojson(text: str) -> dict[str, Any]:
    """The zone as a GeoJSON geometry object (for the API)."""
    return json.loads(text)  # type: ignore[no-any-return]
