"""Great-circle distances on a spherical Earth.

Every distance in the project comes from here. The haversine of the central angle is computed
from the chord between unit vectors, ``hav = |u - v|^2 / 4``: equal to the textbook
``sin^2(dlat/2) + cos cos sin^2(dlng/2)`` in exact arithmetic, but made only of correctly rounded
``+ - *``, so a vectorised numpy scan and a scalar loop give bit-identical values. That is what lets
the H3 index promise *exactly* the answer of a brute-force scan, ties and boundaries included.
Unit vectors are made with ``math`` one point at a time for the same reason (numpy's SIMD
``sin``/``cos`` may round differently depending on where a value sits in an array).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

FloatArray = npt.NDArray[np.float64]


def check_latlng(lat: float, lng: float) -> None:
    """Raise ValueError unless (lat, lng) is a finite WGS84 position in degrees."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        msg = "lat must be a number in [-90, 90]"
        raise ValueError(msg)
    if not (math.isfinite(lng) and -180.0 <= lng <= 180.0):
        msg = "lng must be a number in [-180, 180]"
        raise ValueError(msg)


def latlng_to_unit_vector(lat: float, lng: float) -> tuple[float, float, float]:
    """Return the unit vector (x, y, z) of a WGS84 latitude/longitude in degrees."""
    phi = math.radians(lat)
    lam = math.radians(lng)
    cos_phi = math.cos(phi)
    return (cos_phi * math.cos(lam), cos_phi * math.sin(lam), math.sin(phi))


def latlngs_to_unit_vectors(lats: Iterable[float], lngs: Iterable[float]) -> FloatArray:
    """Return an (n, 3) array of unit vectors, computed point by point (see module doc)."""
    rows = [latlng_to_unit_vector(float(a), float(b)) for a, b in zip(lats, lngs, strict=True)]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def haversine_of_vectors(point: tuple[float, float, float], vectors: FloatArray) -> FloatArray:
    """Return hav(central angle) between one unit vector and each row of an (n, 3) array."""
    delta = vectors - np.asarray(point)
    squares = delta * delta
    result: FloatArray = (squares[:, 0] + squares[:, 1] + squares[:, 2]) * 0.25
    return result


def haversine_of_vector_pair(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Scalar twin of :func:`haversine_of_vectors`, with the same operations in the same order."""
    dx = b[0] - a[0]
    dy = b[1] - a[1]
    dz = b[2] - a[2]
    return (dx * dx + dy * dy + dz * dz) * 0.25


def haversine_to_m(hav: float) -> float:
    """Convert hav(central angle) to metres along the great circle."""
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(hav, 0.0), 1.0)))


def m_to_haversine(metres: float) -> float:
    """Inverse of :func:`haversine_to_m` (for distances up to half the circumference)."""
    half_angle = min(metres / (2.0 * EARTH_RADIUS_M), math.pi / 2)
    return math.sin(half_angle) ** 2


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance in metres between two latitude/longitude points."""
    hav = haversine_of_vector_pair(
        latlng_to_unit_vector(lat1, lng1), latlng_to_unit_vector(lat2, lng2)
    )
    return haversine_to_m(hav)


def haversine_m_many(lat: float, lng: float, lats: FloatArray, lngs: FloatArray) -> FloatArray:
    """Vectorised distances in metres from one point to many (for matrices and analytics)."""
    vectors = latlngs_to_unit_vectors(lats, lngs)
    hav = haversine_of_vectors(latlng_to_unit_vector(lat, lng), vectors)
    clipped = np.clip(hav, 0.0, 1.0)
    metres: FloatArray = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(clipped))
    return metres
