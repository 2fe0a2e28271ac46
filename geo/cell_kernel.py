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
from h3.api import basic_int as h3_api
from numba import njit, types

from geo.distance import EARTH_RADIUS_M

SETTLED = 0  # the answer is final
COARSER = 1  # the rings of this level did not settle it: try a coarser level
MISSING = 2  # geometry of some cells is unknown: compute them, insert, call again
UNSETTLED = 3  # not even level 0 settled it in a few rings: take the full scan
UNSETTLED_CODE = -1  # what nearest() returns for UNSETTLED (and when H3 refuses the point)

RINGS = 5  # a level's disk; its outer ring bounds what its inner rings did not see
DISK_SIZE = 3 * RINGS * (RINGS + 1) + 1
MAX_MISSING = 6 * RINGS  # cells of the outer ring

# The disk comes from H3's own C gridDiskDistances, linked from the h3 package's extension
# module under a name of ours (a symbol, not an address, so numba can cache the compiled code).
# It gives every cell's grid distance, pentagons included; calling it from Python instead
# would cost more than the rest of the query.
# latLngToCell and degsToRads come the same way, so that the query point's cell is the one
# h3-py's latlng_to_cell gives (it converts degrees with degsToRads too).
_library = ctypes.CDLL(h3._cy.cells.__file__)
for _ours, _theirs in (
    ("nearby_h3_grid_disk_distances", "gridDiskDistances"),
    ("nearby_h3_grid_disk_unsafe", "gridDiskDistancesUnsafe"),
    ("nearby_h3_latlng_to_cell", "latLngToCell"),
    ("nearby_h3_degs_to_rads", "degsToRads"),
):
    _address = ctypes.cast(getattr(_library, _theirs), ctypes.c_void_p).value
    llvmlite.binding.add_symbol(_ours, _address)  # type: ignore[arg-type]
_grid_disk_distances = types.ExternalFunction(
    "nearby_h3_grid_disk_distances",
    types.uint32(types.uint64, types.intc, types.voidptr, types.voidptr),
)
_grid_disk_unsafe = types.ExternalFunction(
    "nearby_h3_grid_disk_unsafe",
    types.uint32(types.uint64, types.intc, types.voidptr, types.voidptr),
)
_latlng_to_cell = types.ExternalFunction(
    "nearby_h3_latlng_to_cell", types.uint32(types.voidptr, types.intc, types.voidptr)
)
_degs_to_rads = types.ExternalFunction("nearby_h3_degs_to_rads", types.double(types.double))
# average hexagon edge in metres per resolution: a constant compiled into the kernel
_EDGES = np.array([h3_api.average_hexagon_edge_length(r, "m") for r in range(16)])

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

    Each cell is looked up and bounded once (a ring's cells are met again as the next ring's
    horizon and in the settling), and each store's haversine is computed once: the stores that
    pass the filters and the loose cut are kept as candidates for the settling.
    """
    # the disk's cells grouped by ring (H3 gives them in ring order only away from pentagons)
    first = np.zeros(RINGS + 2, dtype=np.int64)
    for c in range(disk.size):
        if disk[c] != 0:
            first[rings[c] + 1] += 1
    for k in range(RINGS + 1):
        first[k + 1] += first[k]
    order = np.empty(disk.size, dtype=np.int64)
    fill = first.copy()
    for c in range(disk.size):
        if disk[c] != 0:
            order[fill[rings[c]]] = c
            fill[rings[c]] += 1
    cell_row = np.empty(disk.size, dtype=np.int64)  # row in the table, -1 for not in it
    cell_bound = np.empty(disk.size)
    for i in range(first[1]):  # the origin; later rings are looked up as a horizon first
        _look_up(keys, rows, geometry, disk, order[i], px, py, pz, cell_row, cell_bound)
    heap = np.empty(limit)
    size = 0
    capacity = 256
    cand_hav = np.empty(capacity)
    cand_pos = np.empty(capacity, dtype=np.int64)
    count = 0
    any_kind = kind_ok.size == 0
    any_brand = brand_ok.size == 0
    for k in range(RINGS):
        kth_m = to_metres(heap[0]) if size == limit else math.inf
        for i in range(first[k], first[k + 1]):
            c = order[i]
            row = cell_row[c]
            if row < 0:
                continue  # not in the table: no stores
            start, stop = spans[row, 0], spans[row, 1]
            if stop == start:
                continue
            bound = cell_bound[c]
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
                if count == capacity:
                    capacity *= 2
                    cand_hav = np.concatenate((cand_hav, np.empty(capacity - count)))
                    cand_pos = np.concatenate((cand_pos, np.empty(capacity - count, np.int64)))
                cand_hav[count] = hav
                cand_pos[count] = p
                count += 1
                size = _heap_push(heap, size, hav)
            if size == limit:
                kth_m = to_metres(heap[0])
        # the bound from ring k + 1
        horizon = math.inf
        n_missing = 0
        for i in range(first[k + 1], first[k + 2]):
            c = order[i]
            _look_up(keys, rows, geometry, disk, c, px, py, pz, cell_row, cell_bound)
            if cell_row[c] < 0:
                out_positions[n_missing] = np.int64(disk[c])
                n_missing += 1
                continue
            horizon = min(horizon, cell_bound[c])
        if n_missing:
            return MISSING, n_missing
        if horizon <= radius_m and count < limit:
            continue  # too few candidates yet, and more may lie outside
        n = _settle(
            columns, cand_hav, cand_pos, count, radius_m, hav_cut, limit,
            heap[0] if size == limit else math.inf, horizon, out_positions, out_metres,
        )  # fmt: skip
        if horizon > radius_m or n >= limit:
            return SETTLED, min(n, limit)
    return COARSER, 0


@njit(cache=True, inline="always")
def _look_up(
    keys: np.ndarray,
    rows: np.ndarray,
    geometry: np.ndarray,
    disk: np.ndarray,
    c: int,
    px: float,
    py: float,
    pz: float,
    cell_row: np.ndarray,
    cell_bound: np.ndarray,
) -> None:
    """Disk cell ``c``'s row in the table (-1: not in it) and its lower bound in metres."""
    slot = find_slot(keys, disk[c])
    if keys[slot] != disk[c]:
        cell_row[c] = -1
        return
    row = rows[slot]
    cell_row[c] = row
    cell_bound[c] = _cell_bound(geometry, row, px, py, pz)


@njit(cache=True)
def _settle(
    columns: np.ndarray,
    cand_hav: np.ndarray,
    cand_pos: np.ndarray,
    count: int,
    radius_m: float,
    hav_cut: float,
    limit: int,
    kth_hav: float,
    horizon: float,
    out_positions: np.ndarray,
    out_metres: np.ndarray,
) -> int:
    """The hits known to be final among the candidates (every store of the rings walked that
    passes the filters, bar cells no nearer than the radius or the ``limit``-th hit): within the
    radius, nearer than ``horizon``, nearest first with ties by id; more than ``limit`` only in
    a final tie."""
    cut = min(hav_cut, kth_hav * _TIE)
    metres = np.empty(count)
    ranks = np.empty(count, dtype=np.int64)
    positions = np.empty(count, dtype=np.int64)
    n = 0
    for j in range(count):
        hav = cand_hav[j]
        if hav > cut:
            continue
        d = to_metres(hav)
        if d > radius_m or d >= horizon:
            continue
        p = cand_pos[j]
        metres[n] = d
        ranks[n] = columns[p, 0]
        positions[n] = p
        n += 1
    order = _by_metres_then_rank(metres, ranks, n)
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
def _by_metres_then_rank(metres: np.ndarray, ranks: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first ``n`` entries in (metres, rank) order: an insertion sort for the
    few hits of a typical query, two stable sorts for many."""
    if n > 48:
        by_rank = np.argsort(ranks[:n], kind="mergesort")
        return by_rank[np.argsort(metres[:n][by_rank], kind="mergesort")]
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        j = i
        while j > 0:
            o = order[j - 1]
            if metres[o] < metres[i] or (metres[o] == metres[i] and ranks[o] < ranks[i]):
                break
            order[j] = o
            j -= 1
        order[j] = i
    return order


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
        failed = grid_disk(cell_to_parent(finest, level), disk, rings)
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
def grid_disk(origin: np.uint64, disk: np.ndarray, rings: np.ndarray) -> int:
    """The cells within ``RINGS`` of ``origin`` and their grid distances, 0s after the last;
    non-zero when H3 fails.

    H3's fast walk round the rings fails when it meets a pentagon, and H3's own fallback then
    recurses through every path, hundreds of microseconds at five rings. Here the fallback is a
    breadth-first search by H3's one-ring disks: the same cells at the same (graph) distances,
    in tens of microseconds.
    """
    disk[:] = 0
    if not _grid_disk_unsafe(origin, RINGS, disk.ctypes.data, rings.ctypes.data):  # type: ignore[call-overload]
        return 0
    disk[:] = 0
    around = np.zeros(7, dtype=np.uint64)
    steps = np.zeros(7, dtype=np.intc)
    disk[0] = origin
    rings[0] = 0
    n = 1
    head = 0
    while head < n:
        cell = disk[head]
        ring = rings[head]
        head += 1
        if ring == RINGS:
            continue
        around[:] = 0
        if _grid_disk_distances(cell, 1, around.ctypes.data, steps.ctypes.data):  # type: ignore[call-overload]
            return 1
        for j in range(7):
            neighbour = around[j]
            if neighbour == 0:
                continue
            seen = False
            for i in range(n):
                if disk[i] == neighbour:
                    seen = True
                    break
            if not seen:
                if n == disk.size:
                    return 1  # more cells than a disk holds: not a grid H3 makes
                disk[n] = neighbour
                rings[n] = ring + 1
                n += 1
    return 0


@njit(cache=True)
def unit_vector(lat: float, lng: float) -> tuple[float, float, float]:
    """:func:`geo.distance.latlng_to_unit_vector`, the same operations in the same order."""
    phi = math.radians(lat)
    lam = math.radians(lng)
    cos_phi = math.cos(phi)
    return cos_phi * math.cos(lam), cos_phi * math.sin(lam), math.sin(phi)


@njit(cache=True)
def latlng_to_cell(lat: float, lng: float, resolution: int) -> np.uint64:
    """H3's own latLngToCell, degrees made radians by H3's degsToRads as h3-py does; 0 when H3
    refuses the point."""
    point = np.empty(2)
    point[0] = _degs_to_rads(lat)  # type: ignore[call-overload]
    point[1] = _degs_to_rads(lng)  # type: ignore[call-overload]
    cell = np.zeros(1, dtype=np.uint64)
    failed = _latlng_to_cell(  # type: ignore[call-overload]
        point.ctypes.data, resolution, cell.ctypes.data
    )
    return np.uint64(0) if failed else cell[0]


@njit(cache=True)
def nearest(
    keys: np.ndarray,
    rows: np.ndarray,
    geometry: np.ndarray,
    spans: np.ndarray,
    vectors: np.ndarray,
    columns: np.ndarray,
    kind_ok: np.ndarray,
    brand_ok: np.ndarray,
    partner: int,
    resolution: int,
    lat: float,
    lng: float,
    radius_m: float,
    limit: int,
    out_positions: np.ndarray,
    out_metres: np.ndarray,
) -> int:
    """A whole query from the point in degrees, in one call (the Python around it costs more
    per argument and per object than the walk): its H3 cell and unit vector, then
    :func:`nearby`. Returns n >= 0 for n settled hits in ``out_positions``/``out_metres``,
    -1 - m for m cells whose geometry is missing (in ``out_positions``: compute them, insert,
    call again), or :data:`UNSETTLED_CODE` (take the full scan)."""
    finest = latlng_to_cell(lat, lng, resolution)
    if finest == 0:
        return UNSETTLED_CODE
    px, py, pz = unit_vector(lat, lng)
    status, n = nearby(
        keys, rows, geometry, spans, _EDGES, vectors, columns, kind_ok, brand_ok, partner,
        finest, resolution, px, py, pz, radius_m, limit, out_positions, out_metres,
    )  # fmt: skip
    if status == SETTLED:
        return n
    if status == MISSING:
        return -1 - n
    return UNSETTLED_CODE


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
    hav_cut = loose_haversine(radius_m)
    heap = np.empty(limit)
    size = 0
    capacity = 256
    cand_hav = np.empty(capacity)
    cand_pos = np.empty(capacity, dtype=np.int64)
    count = 0
    any_kind = kind_ok.size == 0
    any_brand = brand_ok.size == 0
    for p in range(vectors.shape[0]):
        hav = _hav_at(vectors, p, px, py, pz)
        if hav > hav_cut:
            continue
        if not any_kind and not kind_ok[columns[p, 1]]:
            continue
        if not any_brand and not brand_ok[columns[p, 2]]:
            continue
        if partner >= 0 and columns[p, 3] != partner:
            continue
        if count == capacity:
            capacity *= 2
            cand_hav = np.concatenate((cand_hav, np.empty(capacity - count)))
            cand_pos = np.concatenate((cand_pos, np.empty(capacity - count, np.int64)))
        cand_hav[count] = hav
        cand_pos[count] = p
        count += 1
        size = _heap_push(heap, size, hav)
    found = _settle(
        columns, cand_hav, cand_pos, count, radius_m, hav_cut, limit,
        heap[0] if size == limit else math.inf, math.inf, out_positions, out_metres,
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
