"""The compiled inner loop of the store index: one call answers a k-nearest query on one level.

Why compiled: a query at 1 km must look at a few hundred stores in a few dozen cells, and in
Python each cell and each small numpy call costs more than the arithmetic it does. Here the
whole walk over the rings is one function over flat arrays, and Python only asks H3 for the disk.

The arithmetic is the one of :mod:`geo.distance`, written out with the same operations in the same
order (``hav = ((dx*dx + dy*dy) + dz*dz) * 0.25`` with ``d = store - point``, metres by
``2R * asin(sqrt(clip(hav)))``) and compiled without fast-math, so a distance here is bit for bit
the distance of the brute-force scan (tests/geo/test_cell_kernel.py checks that on random points).

Cells live in one open-addressing hash table shared by every level (an H3 cell number carries
its resolution): ``keys`` (0 = free slot; no valid cell is 0) point to a row of ``geometry``
(centre x, y, z and reach in metres) and of ``spans`` (the cell's run of stores, empty for a cell
known only for its geometry).
"""

from __future__ import annotations

import ctypes
import math

import h3._cy.cells
import llvmlite.binding
import numpy as np
from numba import njit, types

from geo.distance import EARTH_RADIUS_M

SETTLED = 0  # the answer is final
COARSER = 1  # the rings of this level did not settle it: try a coarser level
MISSING = 2  # geometry of some cells is unknown: compute them, insert, call again
UNSETTLED = 3  # not even level 0 settled it in a few rings: take the walk in Python

RINGS = 5  # a level's disk; its outer ring bounds what its inner rings did not see
DISK_SIZE = 3 * RINGS * (RINGS + 1) + 1
MAX_MISSING = 6 * RINGS  # cells of the outer ring

# The disk comes from H3's own C gridDiskDistances, linked from the h3 package's extension
# module under a name of ours (a symbol, not an address, so numba can cache the compiled code).
# It gives every cell's grid distance, pentagons included; calling it from Python instead
# would cost more than the rest of the query.
_library = ctypes.CDLL(h3._cy.cells.__file__)
llvmlite.binding.add_symbol(
    "nearby_h3_grid_disk_distances",
    ctypes.cast(_library.gridDiskDistances, ctypes.c_void_p).value,  # type: ignore[arg-type]
)
_grid_disk_distances = types.ExternalFunction(
    "nearby_h3_grid_disk_distances",
    types.uint32(types.uint64, types.intc, types.voidptr, types.voidptr),
)

TWO_R = 2.0 * EARTH_RADIUS_M
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(29)
_TIE = 1.0 + 1e-12  # haversines an ulp or so apart can round to equal metres: keep them together


@njit(cache=True)
def find_slot(keys: np.ndarray, cell: np.uint64) -> int:
    """The slot holding ``cell``, or the free slot where it would go."""
    mask = np.uint64(keys.size - 1)
    slot = ((cell ^ (cell >> _SHIFT)) * _MIX >> _SHIFT) & mask
    while keys[slot] != 0 and keys[slot] != cell:
        slot = (slot + np.uint64(1)) & mask
    return int(slot)


@njit(cache=True)
def insert_cells(keys: np.ndarray, rows: np.ndarray, cells: np.ndarray, first_row: int) -> None:
    """Put ``cells[i]`` in the table pointing at row ``first_row + i`` (the table has room)."""
    for i in range(cells.size):
        slot = find_slot(keys, cells[i])
        keys[slot] = cells[i]
        rows[slot] = first_row + i


@njit(cache=True)
def loose_haversine(metres: float) -> float:
    """A haversine cut a hair above ``metres`` (the exact test is then made on metres)."""
    half_angle = min(metres / TWO_R, math.pi / 2)
    return math.sin(half_angle) ** 2 * (1 + 1e-9) + 1e-18


@njit(cache=True)
def to_metres(hav: float) -> float:
    return TWO_R * math.asin(math.sqrt(min(max(hav, 0.0), 1.0)))


@njit(cache=True, inline="always")
def _hav_at(vectors: np.ndarray, p: int, px: float, py: float, pz: float) -> float:
    """hav between the point and store ``p``: every pass computes it this one way, in this
    order, so the numbers stay bit-identical to the brute-force scan's."""
    dx = vectors[p, 0] - px
    dy = vectors[p, 1] - py
    dz = vectors[p, 2] - pz
    return (dx * dx + dy * dy + dz * dz) * 0.25  # type: ignore[no-any-return]


@njit(cache=True)
def haversines(px: float, py: float, pz: float, vectors: np.ndarray) -> np.ndarray:
    """hav between a point and each row, as the kernel computes it (for the exactness test)."""
    out = np.empty(vectors.shape[0])
    for i in range(vectors.shape[0]):
        out[i] = _hav_at(vectors, i, px, py, pz)
    return out


@njit(cache=True)
def metres_of(havs: np.ndarray) -> np.ndarray:
    out = np.empty(havs.size)
    for i in range(havs.size):
        out[i] = to_metres(havs[i])
    return out


@njit(cache=True)
def _cell_bound(geometry: np.ndarray, row: int, px: float, py: float, pz: float) -> float:
    """Lower bound in metres on the distance from the point to anything in the cell."""
    dx = geometry[row, 0] - px
    dy = geometry[row, 1] - py
    dz = geometry[row, 2] - pz
    hav = min((dx * dx + dy * dy + dz * dz) * 0.25, 1.0)
    reach: float = geometry[row, 3]
    return TWO_R * math.asin(math.sqrt(hav)) - reach


@njit(cache=True)
def cell_to_parent(cell: np.uint64, level: int) -> np.uint64:
    """H3 parent by bits: the resolution field set to ``level``, finer digits set to 7."""
    res = int((cell >> np.uint64(52)) & np.uint64(15))
    out = (cell & ~(np.uint64(15) << np.uint64(52))) | (np.uint64(level) << np.uint64(52))
    for r in range(level + 1, res + 1):
        out |= np.uint64(7) << np.uint64(3 * (15 - r))
    return out


@njit(cache=True)
def start_level(
    keys: np.ndarray,
    rows: np.ndarray,
    spans: np.ndarray,
    edges: np.ndarray,
    cell: np.uint64,
    resolution: int,
    radius_m: float,
    limit: int,
) -> int:
    """The finest level whose first disk likely holds the answer: enough stores, or cells wide
    enough that the radius ends about the second ring (tuned for speed only)."""
    for level in range(resolution, 0, -1):
        here = cell_to_parent(cell, level)
        slot = find_slot(keys, here)
        count = 0
        if keys[slot] == here:
            row = rows[slot]
            count = spans[row, 1] - spans[row, 0]
        if 7 * count >= 2 * limit or 1.2 * edges[level] >= radius_m:
            return level
    return 0


@njit(cache=True)
def _heap_push(heap: np.ndarray, size: int, value: float) -> int:
    """Keep the ``heap.size`` smallest values in a max-heap; return the new size."""
    if size < heap.size:
        i = size
        heap[i] = value
        while i > 0:
            parent = (i - 1) // 2
            if heap[parent] >= heap[i]:
                break
            heap[parent], heap[i] = heap[i], heap[parent]
            i = parent
        return size + 1
    if value >= heap[0]:
        return size
    heap[0] = value
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        big = left
        if left + 1 < size and heap[left + 1] > heap[left]:
            big = left + 1
        if heap[i] >= heap[big]:
            break
        heap[i], heap[big] = heap[big], heap[i]
        i = big
    return size


@njit(cache=True)
def walk(
    keys: np.ndarray,
    rows: np.ndarray,
    geometry: np.ndarray,
    spans: np.ndarray,
    vectors: np.ndarray,
    columns: np.ndarray,
    kind_ok: np.ndarray,
    brand_ok: np.ndarray,
    partner: int,
    disk: np.ndarray,
    rings: np.ndarray,
    px: float,
    py: float,
    pz: float,
    radius_m: float,
    hav_cut: float,
    limit: int,
    out_positions: np.ndarray,
    out_metres: np.ndarray,
) -> tuple[int, int]:
    """Walk the cells of ``disk`` ring by ring (``rings`` holds each one's grid distance from
    the origin, the cell holding the query point; a 0 in ``disk`` is a hole left by H3).

    After each ring ``k`` the nearest point of ring ``k + 1`` bounds everything not yet seen
    (anything outside the disk walked is reached across that ring); the answer is final once the
    radius lies inside that bound, or ``limit`` hits lie strictly nearer than it. Returns
    (status, n): for SETTLED the hits are ``out_positions[:n]`` / ``out_metres[:n]`` in
    (metres, id) order; for MISSING the cells without geometry are ``out_positions[:n]``
    (H3 cell numbers fit an int64).
    ``columns`` holds each store's id rank, kind code, brand code and partner flag; ``kind_ok``
    and ``brand_ok`` are empty when any passes; ``partner`` is -1 for any.
    """
    heap = np.empty(limit)
    size = 0
    count = 0
    any_kind = kind_ok.size == 0
    any_brand = brand_ok.size == 0
    for k in range(RINGS):
        kth_m = to_metres(heap[0]) if size == limit else math.inf
        for c in range(disk.size):
            if rings[c] != k or disk[c] == 0:
                continue
            slot = find_slot(keys, disk[c])
            if keys[slot] != disk[c]:
                continue  # not in the table: no stores
            row = rows[slot]
            start, stop = spans[row, 0], spans[row, 1]
            if stop == start:
                continue
            bound = _cell_bound(geometry, row, px, py, pz)
            if bound > radius_m or bound > kth_m:
                continue  # nothing in it can be a hit
            for p in range(start, stop):
                hav = _hav_at(vectors, p, px, py, pz)
                if hav > hav_cut:
                    continue
                if not any_kind and not kind_ok[columns[p, 1]]:
                    continue
                if not any_brand and not brand_ok[columns[p, 2]]:
                    continue
                if partner >= 0 and columns[p, 3] != partner:
                    continue
                count += 1
                size = _heap_push(heap, size, hav)
            if size == limit:
                kth_m = to_metres(heap[0])
        # the bound from ring k + 1
        horizon = math.inf
        n_missing = 0
        for c in range(disk.size):
            if rings[c] != k + 1 or disk[c] == 0:
                continue
            slot = find_slot(keys, disk[c])
            if keys[slot] != disk[c]:
                out_positions[n_missing] = np.int64(disk[c])
                n_missing += 1
                continue
            horizon = min(horizon, _cell_bound(geometry, rows[slot], px, py, pz))
        if n_missing:
            return MISSING, n_missing
        if horizon <= radius_m and count < limit:
            continue  # too few candidates yet, and more may lie outside
        n = _settle(
            keys, rows, geometry, spans, vectors, columns, kind_ok, brand_ok, partner, disk,
            rings, k, px, py, pz, radius_m, hav_cut, limit, heap[0] if size == limit else math.inf,
            horizon, out_positions, out_metres,
        )  # fmt: skip
        if horizon > radius_m or n >= limit:
            return SETTLED, min(n, limit)
    return COARSER, 0


@njit(cache=True)
def _settle(
    keys: np.ndarray,
    rows: np.ndarray,
    geometry: np.ndarray,
    spans: np.ndarray,
    vectors: np.ndarray,
    columns: np.ndarray,
    kind_ok: np.ndarray,
    brand_ok: np.ndarray,
    partner: int,
    disk: np.ndarray,
    rings: np.ndarray,
    last_ring: int,
    px: float,
    py: float,
    pz: float,
    radius_m: float,
    hav_cut: float,
    limit: int,
    kth_hav: float,
    horizon: float,
    out_positions: np.ndarray,
    out_metres: np.ndarray,
) -> int:
    """The hits known to be final in the rings up to ``last_ring``: within the radius, nearer
    than ``horizon``, nearest first with ties by id; more than ``limit`` only in a final tie."""
    cut = min(hav_cut, kth_hav * _TIE)
    kth_m = to_metres(kth_hav) if kth_hav < math.inf else math.inf
    any_kind = kind_ok.size == 0
    any_brand = brand_ok.size == 0
    capacity = 64
    metres = np.empty(capacity)
    ranks = np.empty(capacity, dtype=np.int64)
    positions = np.empty(capacity, dtype=np.int64)
    n = 0
    for c in range(disk.size):
        if rings[c] > last_ring or disk[c] == 0:
            continue
        slot = find_slot(keys, disk[c])
        if keys[slot] != disk[c]:
            continue
        row = rows[slot]
        start, stop = spans[row, 0], spans[row, 1]
        if stop == start:
            continue
        bound = _cell_bound(geometry, row, px, py, pz)
        if bound > radius_m or bound > kth_m or bound >= horizon:
            continue
        for p in range(start, stop):
            hav = _hav_at(vectors, p, px, py, pz)
            if hav > cut:
                continue
            if not any_kind and not kind_ok[columns[p, 1]]:
                continue
            if not any_brand and not brand_ok[columns[p, 2]]:
                continue
            if partner >= 0 and columns[p, 3] != partner:
                continue
            d = to_metres(hav)
            if d > radius_m or d >= horizon:
                continue
            if n == capacity:
                capacity *= 2
                metres = np.concatenate((metres, np.empty(capacity - n)))
                ranks = np.concatenate((ranks, np.empty(capacity - n, dtype=np.int64)))
                positions = np.concatenate((positions, np.empty(capacity - n, dtype=np.int64)))
            metres[n] = d
            ranks[n] = columns[p, 0]
            positions[n] = p
            n += 1
    # (metres, id rank) order: by rank first, then a stable sort by metres
    by_rank = np.argsort(ranks[:n], kind="mergesort")
    order = by_rank[np.argsort(metres[:n][by_rank], kind="mergesort")]
    taken = 0
    last = -1.0
    for i in order:
        d = metres[i]
        if taken >= limit and d > last:
            break
        if taken < out_metres.size:  # out_positions may be longer
            out_positions[taken] = positions[i]
            out_metres[taken] = d
        taken += 1
        last = d
    return taken


@njit(cache=True)
def nearby(
    keys: np.ndarray,
    rows: np.ndarray,
    geometry: np.ndarray,
    spans: np.ndarray,
    edges: np.ndarray,
    vectors: np.ndarray,
    columns: np.ndarray,
    kind_ok: np.ndarray,
    brand_ok: np.ndarray,
    partner: int,
    finest: np.uint64,
    resolution: int,
    px: float,
    py: float,
    pz: float,
    radius_m: float,
    limit: int,
    out_positions: np.ndarray,
    out_metres: np.ndarray,
) -> tuple[int, int]:
    """A whole query: from the start level, one disk per level until one settles the answer.

    ``finest`` is the cell of the query point at the index resolution. Returns (status, n) as
    :func:`walk` does; UNSETTLED when H3 failed or level 0 did not settle in ``RINGS`` rings.
    """
    level = start_level(keys, rows, spans, edges, finest, resolution, radius_m, limit)
    hav_cut = loose_haversine(radius_m)
    disk = np.empty(DISK_SIZE, dtype=np.uint64)
    rings = np.empty(DISK_SIZE, dtype=np.intc)
    while level >= 0:
        disk[:] = 0
        origin = cell_to_parent(finest, level)
        failed = _grid_disk_distances(  # type: ignore[call-overload]
            origin, RINGS, disk.ctypes.data, rings.ctypes.data
        )
        if failed:
            return UNSETTLED, 0
        status, n = walk(
            keys, rows, geometry, spans, vectors, columns, kind_ok, brand_ok, partner, disk,
            rings, px, py, pz, radius_m, hav_cut, limit, out_positions, out_metres,
        )  # fmt: skip
        if status != COARSER:
            return status, n
        level -= 1
    return UNSETTLED, 0


@njit(cache=True)
def scan(
    vectors: np.ndarray,
    columns: np.ndarray,
    kind_ok: np.ndarray,
    brand_ok: np.ndarray,
    partner: int,
    px: float,
    py: float,
    pz: float,
    radius_m: float,
    limit: int,
    out_positions: np.ndarray,
    out_metres: np.ndarray,
) -> int:
    """Every store, for the rare query that no level's rings settle: the brute-force answer."""
    n = vectors.shape[0]
    hav_cut = loose_haversine(radius_m)
    spans = np.array([[0, n]], dtype=np.int64)
    disk = np.array([1], dtype=np.uint64)  # one pseudo-cell holding every store
    keys = np.zeros(2, dtype=np.uint64)
    rows = np.zeros(2, dtype=np.int64)
    insert_cells(keys, rows, disk, 0)
    geometry = np.array([[px, py, pz, 0.0]])  # a bound of 0 m: nothing is skipped
    rings = np.zeros(1, dtype=np.intc)
    heap = np.empty(limit)
    size = 0
    any_kind = kind_ok.size == 0
    any_brand = brand_ok.size == 0
    for p in range(n):
        hav = _hav_at(vectors, p, px, py, pz)
        if hav > hav_cut:
            continue
        if not any_kind and not kind_ok[columns[p, 1]]:
            continue
        if not any_brand and not brand_ok[columns[p, 2]]:
            continue
        if partner >= 0 and columns[p, 3] != partner:
            continue
        size = _heap_push(heap, size, hav)
    found = _settle(
        keys, rows, geometry, spans, vectors, columns, kind_ok, brand_ok, partner, disk, rings,
        0, px, py, pz, radius_m, hav_cut, limit, heap[0] if size == limit else math.inf,
        math.inf, out_positions, out_metres,
    )  # fmt: skip
    return min(found, limit)


@njit(cache=True)
def parents(cells: np.ndarray, level: int) -> np.ndarray:
    """cell_to_parent of each cell (sorted cells give sorted parents)."""
    out = np.empty_like(cells)
    for i in range(cells.size):
        out[i] = cell_to_parent(cells[i], level)
    return out


@njit(cache=True)
def farthest_metres(
    vectors: np.ndarray, starts: np.ndarray, ends: np.ndarray, centres: np.ndarray
) -> np.ndarray:
    """For each run of stores, the distance in metres of its farthest store from ``centres[i]``."""
    out = np.zeros(starts.size)
    for i in range(starts.size):
        far = 0.0
        for p in range(starts[i], ends[i]):
            far = max(far, _hav_at(vectors, p, centres[i, 0], centres[i, 1], centres[i, 2]))
        out[i] = to_metres(far)
    return out
