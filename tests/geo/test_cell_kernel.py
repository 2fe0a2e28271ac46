"""The compiled kernel computes what geo.distance computes, bit for bit, and reads H3 bits right."""

from __future__ import annotations

import math

import numpy as np
import pytest
from h3.api import basic_int as h3
from numba import njit

from geo import cell_kernel
from geo.distance import (
    haversine_of_vectors,
    haversine_to_m,
    latlng_to_unit_vector,
    latlngs_to_unit_vectors,
)
from geo.index import NearbyQuery, StoreIndex
from tests.geo.test_index import CENTRES, answer, brute_force, make_stores


def random_latlngs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)


@pytest.mark.parametrize("spread", [1e-5, 1e-2, 1.0, 180.0])
def test_haversines_equal_numpy_bit_for_bit(spread: float) -> None:
    """Near and far points: the kernel's hav is numpy's hav, to the last bit."""
    rng = np.random.default_rng(1)
    lat, lng = 24.18, 120.60
    lats = np.clip(lat + rng.normal(0, spread, 20_000), -90, 90)
    lngs = (lng + rng.normal(0, spread, 20_000) + 180) % 360 - 180
    vectors = latlngs_to_unit_vectors(lats, lngs)
    point = latlng_to_unit_vector(lat, lng)
    ours = cell_kernel.haversines(*point, vectors)
    assert np.array_equal(
        ours.view(np.uint64), haversine_of_vectors(point, vectors).view(np.uint64)
    )


def test_metres_equal_math_bit_for_bit() -> None:
    """Metres from a haversine: the kernel's asin and sqrt are the ones math uses."""
    rng = np.random.default_rng(2)
    havs = np.concatenate([rng.random(20_000) ** 8, rng.random(20_000), [0.0, 1.0, 1e-300]])
    ours = cell_kernel.metres_of(havs)
    assert [float(m) for m in ours] == [haversine_to_m(float(h)) for h in havs]


def test_parents_by_bits() -> None:
    """cell_to_parent agrees with h3 on pentagons, their neighbours and random cells."""
    rng = np.random.default_rng(3)
    cells = [p for r in range(16) for p in h3.get_pentagons(r)]
    cells += [c for p in h3.get_pentagons(9) for c in h3.grid_disk(p, 2)]
    lats, lngs = random_latlngs(rng, 3000)
    cells += [
        h3.latlng_to_cell(a, b, int(r))
        for a, b, r in zip(lats, lngs, rng.integers(0, 16, 3000), strict=True)
    ]
    for cell in cells:
        for level in range(h3.get_resolution(cell) + 1):
            assert int(cell_kernel.cell_to_parent(np.uint64(cell), level)) == h3.cell_to_parent(
                cell, level
            )


def test_nearby_walks_rings_not_the_whole_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries are settled by the ring walk, pentagons included, without the full scan."""

    def refuse(*_: object) -> None:
        raise AssertionError("fell back to scanning every store")

    monkeypatch.setattr(cell_kernel, "scan", refuse)
    for city in ("taichung", "pentagon", "antimeridian"):
        stores = make_stores(CENTRES[city], 0.02, 3000, 5)
        index = StoreIndex(stores)
        lat, lng = CENTRES[city]
        for radius in (300.0, 1000.0, 3000.0, 50_000.0):
            query = NearbyQuery(lat, lng, radius, 20, kinds=frozenset({"convenience"}))
            assert answer(index, query) == brute_force(stores, query)


def test_far_queries_grow_the_cell_table() -> None:
    """Queries in empty places add many empty cells; the grown table answers exactly."""
    stores = make_stores(CENTRES["helsinki"], 0.01, 40, 6)
    index = StoreIndex(stores)
    before = len(index._table.cells)
    rng = np.random.default_rng(6)
    for lat, lng in zip(rng.uniform(59, 62, 200), rng.uniform(22, 28, 200), strict=True):
        query = NearbyQuery(float(lat), float(lng), 50_000.0, 5)
        assert answer(index, query) == brute_force(stores, query)
    assert len(index._table.cells) > before
    assert not math.isnan(index._table.geometry[: index._table.used].sum())


def test_point_cell_is_h3s() -> None:
    """The kernel's latlng_to_cell is h3-py's, near pentagons, poles and the antimeridian too."""
    rng = np.random.default_rng(7)
    lats, lngs = random_latlngs(rng, 5000)
    points = list(zip(lats.tolist(), lngs.tolist(), strict=True))
    points += [h3.cell_to_latlng(p) for p in h3.get_pentagons(9)]
    points += [(90.0, 0.0), (-90.0, 180.0), (0.0, -180.0), (0.0, 180.0), (24.18, 120.6)]
    for lat, lng in points:
        for resolution in (0, 7, 9, 15):
            ours = int(cell_kernel.latlng_to_cell(lat, lng, resolution))
            assert ours == h3.latlng_to_cell(lat, lng, resolution)


def test_point_vector_is_geo_distances_bit_for_bit() -> None:
    """The query point's unit vector, made in the kernel, is latlng_to_unit_vector's to the bit."""
    rng = np.random.default_rng(8)
    lats, lngs = random_latlngs(rng, 20_000)
    for lat, lng in zip(lats.tolist(), lngs.tolist(), strict=True):
        assert cell_kernel.unit_vector(lat, lng) == latlng_to_unit_vector(lat, lng)


def test_ranked_is_nearby_as_positions() -> None:
    """ranked() names by position exactly the stores and metres nearby() returns."""
    stores = make_stores(CENTRES["taichung"], 0.01, 2000, 9)
    index = StoreIndex(stores)
    rng = np.random.default_rng(9)
    for lat, lng in zip(rng.normal(24.18, 0.01, 50), rng.normal(120.60, 0.01, 50), strict=True):
        for limit in (1, 20, 150):  # 150: past the insertion sort's few hits
            query = NearbyQuery(float(lat), float(lng), 3000.0, limit)
            positions, metres = index.ranked(query)
            hits = index.nearby(query)
            assert [index.store_at(p) for p in positions] == [h.store for h in hits]
            assert metres == [h.distance_m for h in hits]
            assert [(h.store.id, h.distance_m) for h in hits] == brute_force(stores, query)


@njit
def _h3_disk(origin: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """H3's own gridDiskDistances (fast walk, else its slow fallback), as the reference."""
    disk = np.zeros(cell_kernel.DISK_SIZE, dtype=np.uint64)
    rings = np.zeros(cell_kernel.DISK_SIZE, dtype=np.intc)
    cell_kernel._grid_disk_distances(origin, cell_kernel.RINGS, disk.ctypes.data, rings.ctypes.data)
    return disk, rings


def test_grid_disk_is_h3s_near_pentagons_too() -> None:
    """Same cells at the same grid distances as H3's gridDiskDistances: random cells, and
    pentagons and the cells round them, where H3's fast walk fails."""
    rng = np.random.default_rng(10)
    lats, lngs = random_latlngs(rng, 300)
    origins = [h3.latlng_to_cell(a, b, 9) for a, b in zip(lats, lngs, strict=True)]
    origins += [c for r in (6, 8, 9) for p in h3.get_pentagons(r) for c in h3.grid_disk(p, 2)]
    disk = np.zeros(cell_kernel.DISK_SIZE, dtype=np.uint64)
    rings = np.zeros(cell_kernel.DISK_SIZE, dtype=np.intc)
    for origin in origins:
        assert cell_kernel.grid_disk(np.uint64(origin), disk, rings) == 0
        expected_disk, expected_rings = _h3_disk(np.uint64(origin))
        ours = {(int(c), int(r)) for c, r in zip(disk, rings, strict=True) if c}
        theirs = {(int(c), int(r)) for c, r in zip(expected_disk, expected_rings, strict=True) if c}
        assert ours == theirs
