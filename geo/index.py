"""The in-memory H3 store index: exact radius and k-nearest queries.

Stores are bucketed by H3 cell. A query walks rings of cells outward from the cell of the query
point and stops as soon as nothing outside the rings walked can beat what was found. The stop
rule is a proof, not a heuristic: any point outside ``grid_disk(origin, k)`` is reached from the
query point only by crossing a cell of ring ``k + 1``, so its distance is at least
``min over ring k+1 of (distance to the cell centre - the cell's reach)``, where the reach is the
farthest of the cell's vertices and of its own stores from its centre. Distances are computed by
:mod:`geo.distance` exactly as a brute-force scan computes them, and ordered by (distance, id), so
the answer is the brute-force answer, stores on the radius and in distance ties included.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from h3 import H3BaseException
from h3.api import basic_int as h3

from geo import cell_kernel
from geo.distance import (
    EARTH_RADIUS_M,
    FloatArray,
    check_latlng,
    haversine_of_vector_pair,
    haversine_of_vectors,
    haversine_to_m,
    latlng_to_unit_vector,
    latlngs_to_unit_vectors,
    m_to_haversine,
)
from geo.stores import STORE_KINDS, Store

# Guards the pruning bound against rounding in cell vertices and centres (metres).
_REACH_SLACK_M = 0.05
_GEOMETRY_CACHE_LIMIT = 4_000_000
_TWO_R = 2.0 * EARTH_RADIUS_M
_RINGS_PER_LEVEL = 4
_EDGE_M = [h3.average_hexagon_edge_length(r, "m") for r in range(16)]
_EDGE_ARRAY = np.array(_EDGE_M)
_ANY = np.zeros(0, dtype=np.bool_)  # a kind or brand mask that lets everything through

IntArray = npt.NDArray[np.int64]
Mask = Callable[[IntArray], npt.NDArray[np.bool_]]
Vector = tuple[float, float, float]
CellGeometry = tuple[float, float, float, float]  # centre x, y, z and reach in metres


@dataclass(frozen=True, slots=True)
class NearbyQuery:
    """A nearby-store question. ``kinds``/``brands`` of None mean any; ``open_at`` of None, any."""

    lat: float
    lng: float
    radius_m: float
    limit: int
    kinds: frozenset[str] | None = None
    brands: frozenset[str] | None = None
    partner: bool | None = None
    open_at: datetime | None = None

    def __post_init__(self) -> None:
        check_latlng(self.lat, self.lng)
        if not (math.isfinite(self.radius_m) and self.radius_m >= 0):
            msg = "radius_m must be a non-negative number"
            raise ValueError(msg)
        if self.limit < 1:
            msg = "limit must be at least 1"
            raise ValueError(msg)

    def accepts(self, store: Store) -> bool:
        """Tell whether a store passes every filter (the distance aside)."""
        if self.kinds is not None and store.kind not in self.kinds:
            return False
        if self.brands is not None and store.brand.casefold() not in self.brands:
            return False
        if self.partner is not None and store.partner != self.partner:
            return False
        return self.open_at is None or is_open(store, self.open_at) is True


class StoreHit(NamedTuple):
    """A store and its distance from the query point (a named tuple: made by the thousand)."""

    store: Store
    distance_m: float


# StoreHit(store, d) goes through a Python-level __new__; tuple.__new__ makes the same named
# tuple in a third of the time, which shows at twenty hits a query
_new_hit = tuple.__new__


def is_open(store: Store, moment: datetime) -> bool | None:
    """Open at ``moment``, closed, or None when the store's hours are unknown."""
    if store.hours is None:
        return None
    return store.hours.is_open_at(moment, store.zone)


class StoreIndex:
    """An immutable H3 bucket index over a catalogue; build a new one to change the catalogue."""

    def __init__(self, stores: Sequence[Store], *, resolution: int | None = None) -> None:
        if resolution is None:
            resolution = choose_resolution(stores)
        if not 0 <= resolution <= 15:
            msg = "resolution must be in 0..15"
            raise ValueError(msg)
        self.resolution = resolution
        self._geometry_cache: dict[int, CellGeometry] = {}
        cells = np.fromiter(
            (h3.latlng_to_cell(s.lat, s.lng, resolution) for s in stores),
            dtype=np.uint64,
            count=len(stores),
        )
        order = np.argsort(cells, kind="stable")
        self._stores: list[Store] = [stores[i] for i in order]
        self._by_id: dict[str, Store] = {s.id: s for s in self._stores}
        if len(self._by_id) != len(self._stores):
            msg = "store ids must be unique"
            raise ValueError(msg)
        self._ids_sorted = sorted(self._by_id)
        rank = {store_id: i for i, store_id in enumerate(self._ids_sorted)}
        self._id_rank: IntArray = np.array([rank[s.id] for s in self._stores], dtype=np.int64)
        self._vectors: FloatArray = latlngs_to_unit_vectors(
            (s.lat for s in self._stores), (s.lng for s in self._stores)
        )
        # x, y, z and the position itself side by side: one slice or concatenation per query
        # gathers both (positions below 2**53 are exact as floats)
        self._rows: FloatArray = np.column_stack(
            [self._vectors, np.arange(len(self._stores), dtype=np.float64)]
        )
        self._kind_code = np.array([STORE_KINDS.index(s.kind) for s in self._stores], np.int64)
        brands = sorted({s.brand.casefold() for s in self._stores})
        self.brands: frozenset[str] = frozenset(brands)
        self._brand_codes = {brand: code for code, brand in enumerate(brands)}
        self._brand_code = np.array(
            [self._brand_codes[s.brand.casefold()] for s in self._stores], dtype=np.int64
        )
        self._partner = np.array([s.partner for s in self._stores], dtype=bool)
        self._slices: dict[int, tuple[int, int]] = {}
        unique, starts = np.unique(cells[order], return_index=True)
        ends = [*starts[1:].tolist(), len(self._stores)] if len(starts) else []
        for cell, start, end in zip(unique.tolist(), starts.tolist(), ends, strict=True):
            self._slices[cell] = (start, end)
        self._levels = frozenset({resolution})
        self._levels_lock = threading.Lock()  # web workers query one index from many threads
        for level in range(resolution - 1, -1, -1):
            self._ensure_level(level)
        # Geometry of every cell holding stores, at every level, is made now rather than on a
        # first query: the cost is paid once at build, not by unlucky early shoppers.
        for cell in self._slices:
            self._cell_geometry(cell)
        self._occupied_geometry = dict(self._geometry_cache)
        self._columns: IntArray = np.column_stack(
            [self._id_rank, self._kind_code, self._brand_code, self._partner.astype(np.int64)]
        )
        self._table = _CellTable.of(self._slices, self._occupied_geometry)
        self._table_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._stores)

    def __iter__(self) -> Iterator[Store]:
        """Stores in ascending id order."""
        return (self._by_id[i] for i in self._ids_sorted)

    def get(self, store_id: str) -> Store | None:
        return self._by_id.get(store_id)

    def ids_sorted(self) -> Sequence[str]:
        """Every store id in ascending order (for stable pagination)."""
        return self._ids_sorted

    def nearby(self, query: NearbyQuery) -> list[StoreHit]:
        """Return up to ``limit`` stores within ``radius_m`` passing the filters, nearest first.

        The walk starts at the index resolution; when a few rings do not settle the answer (a
        sparse area, a rare filter, a wide radius) it starts again one resolution coarser, so a
        50 km query costs a handful of rings, not thousands of empty cells.
        """
        if query.open_at is not None or not self._stores:
            return self._nearby_in_python(query, self._start_level(query))
        finest = np.uint64(h3.latlng_to_cell(query.lat, query.lng, self.resolution))
        px, py, pz = latlng_to_unit_vector(query.lat, query.lng)
        hav_cut = _loose_haversine(query.radius_m)
        kind_ok, brand_ok, partner = self._static_masks(query)
        positions = np.empty(query.limit, dtype=np.int64)
        metres = np.empty(query.limit)
        missing = np.empty(6 * cell_kernel.RINGS, dtype=np.uint64)
        while True:
            table = self._table
            status, n = cell_kernel.nearby(
                table.keys, table.rows, table.geometry, table.spans, _EDGE_ARRAY, self._vectors,
                self._columns, kind_ok, brand_ok, partner, finest, self.resolution,
                px, py, pz, query.radius_m, hav_cut, query.limit, positions, metres, missing,
            )  # fmt: skip
            if status != cell_kernel.MISSING:
                break
            self._add_geometry(missing[:n].tolist())
        if status == cell_kernel.SETTLED:
            stores = self._stores
            return [
                _new_hit(StoreHit, (stores[p], d))
                for p, d in zip(positions[:n].tolist(), metres[:n].tolist(), strict=True)
            ]
        return self._nearby_in_python(query, 0)

    def _nearby_in_python(self, query: NearbyQuery, level: int) -> list[StoreHit]:
        """The walk one ring at a time in Python: for opening-hours filters, which call Python
        per store, and for the rare query that a few rings at level 0 do not settle."""
        while True:
            hits = self._walk(query, level, max_rings=_RINGS_PER_LEVEL if level else None)
            if hits is not None:
                return hits
            level -= 1

    def _walk(
        self, query: NearbyQuery, level: int, *, max_rings: int | None
    ) -> list[StoreHit] | None:
        """Walk rings of ``level`` cells; None if ``max_rings`` did not settle the answer."""
        self._ensure_level(level)
        point = latlng_to_unit_vector(query.lat, query.lng)
        hav_cut = _loose_haversine(query.radius_m)
        static_ok = self._static_filter(query)
        dynamic_ok = _dynamic_filter(query)
        origin = h3.latlng_to_cell(query.lat, query.lng, level)
        found_pos: list[IntArray] = []
        found_hav: list[FloatArray] = []
        found = 0
        cells = h3.grid_disk(origin, 1)  # most answers lie in the first disk: take it at once
        k = 1
        while max_rings is None or k <= max_rings:
            positions, hav = self._candidates(point, cells)
            if positions.size:
                keep = hav <= hav_cut
                if static_ok is not None:
                    keep &= static_ok(positions)
                found_pos.append(positions[keep])
                found_hav.append(hav[keep])
                found += found_pos[-1].size
            k += 1
            cells = _grid_ring(origin, k)
            bound = self._lower_bound_m(point, cells)
            if bound <= query.radius_m and found < query.limit:
                continue  # too few candidates yet, and more may lie outside
            hits = self._settled_hits(found_pos, found_hav, query, dynamic_ok, horizon_m=bound)
            if bound > query.radius_m or len(hits) >= query.limit:
                return [StoreHit(self._stores[p], d) for d, p in hits[: query.limit]]
        return None

    def _start_level(self, query: NearbyQuery) -> int:
        """The finest level whose first disk likely holds the answer: enough stores, or cells
        wide enough that the radius ends about the second ring (tuned for speed only)."""
        cell = h3.latlng_to_cell(query.lat, query.lng, self.resolution)
        for level in range(self.resolution, 0, -1):
            here = cell if level == self.resolution else h3.cell_to_parent(cell, level)
            start, end = self._slices.get(here, (0, 0))
            if 7 * (end - start) >= 2 * query.limit or 1.2 * _EDGE_M[level] >= query.radius_m:
                return level
        return 0

    def _ensure_level(self, level: int) -> None:
        """Make the cells of a coarser ``level`` map to their (contiguous) runs of stores.

        Built into a copy and swapped in whole, under a lock: other threads keep querying the
        old mapping meanwhile and never see one half built.
        """
        if level in self._levels:
            return
        with self._levels_lock:
            if level in self._levels:
                return
            slices = dict(self._slices)
            finest = sorted(c for c in slices if h3.get_resolution(c) == self.resolution)
            for cell in finest:  # children of one parent are adjacent in H3 integer order
                parent = h3.cell_to_parent(cell, level)
                start, end = slices[cell]
                previous = slices.get(parent)
                slices[parent] = (previous[0], end) if previous else (start, end)
            self._slices = slices
            self._levels = self._levels | {level}

    # -- internals ---------------------------------------------------------------------------

    def _candidates(self, point: Vector, cells: Sequence[int]) -> tuple[IntArray, FloatArray]:
        get = self._slices.get
        spans = [span for cell in cells if (span := get(cell)) is not None]
        if not spans:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if len(spans) == 1:
            rows = self._rows[spans[0][0] : spans[0][1]]
        else:
            rows = np.concatenate([self._rows[start:end] for start, end in spans])
        return rows[:, 3].astype(np.int64), haversine_of_vectors(point, rows[:, :3])

    def _static_masks(
        self, query: NearbyQuery
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], int]:
        """The filters as the kernel takes them: kind and brand masks (empty: any), partner
        -1 (any), 0 or 1."""
        kind_ok = _ANY
        if query.kinds is not None:
            kind_ok = np.array([k in query.kinds for k in STORE_KINDS], dtype=np.bool_)
        brand_ok = _ANY
        if query.brands is not None:
            brand_ok = np.zeros(len(self._brand_codes), dtype=np.bool_)
            for brand in query.brands:
                if (code := self._brand_codes.get(brand)) is not None:
                    brand_ok[code] = True
        partner = -1 if query.partner is None else int(query.partner)
        return kind_ok, brand_ok, partner

    def _add_geometry(self, cells: list[int]) -> None:
        """Give the kernel the geometry of empty cells it met on a ring (computed once each)."""
        geometry = [self._cell_geometry(cell) for cell in cells]
        with self._table_lock:
            self._table = self._table.with_cells(cells, geometry)

    def _static_filter(self, query: NearbyQuery) -> Mask | None:
        checks: list[Mask] = []
        if query.kinds is not None:
            codes = np.array([STORE_KINDS.index(k) for k in query.kinds], dtype=np.int64)
            checks.append(lambda p: np.isin(self._kind_code[p], codes))
        if query.brands is not None:
            wanted = np.array([self._brand_codes.get(b, -1) for b in query.brands], np.int64)
            checks.append(lambda p: np.isin(self._brand_code[p], wanted))
        if query.partner is not None:
            partner = query.partner
            checks.append(lambda p: self._partner[p] == partner)
        if not checks:
            return None

        def combined(positions: IntArray) -> npt.NDArray[np.bool_]:
            mask = checks[0](positions)
            for check in checks[1:]:
                mask &= check(positions)
            return mask

        return combined

    def _lower_bound_m(self, point: Vector, ring: Sequence[int]) -> float:
        """A lower bound on the distance from ``point`` to anything in the cells of ``ring``."""
        px, py, pz = point
        cache = self._geometry_cache
        bound = math.inf
        for cell in ring:  # a hot loop: the distance is written out rather than called
            cx, cy, cz, reach = cache.get(cell) or self._cell_geometry(cell)
            dx, dy, dz = cx - px, cy - py, cz - pz
            hav = min((dx * dx + dy * dy + dz * dz) * 0.25, 1.0)
            distance = _TWO_R * math.asin(math.sqrt(hav)) - reach
            if distance < bound:
                bound = distance
        return bound

    def _cell_geometry(self, cell: int) -> CellGeometry:
        """The cell's centre and reach: the farthest of its vertices and its stores, plus slack."""
        if len(self._geometry_cache) >= _GEOMETRY_CACHE_LIMIT:  # forget empty cells seen
            self._geometry_cache = dict(self._occupied_geometry)
        centre = latlng_to_unit_vector(*h3.cell_to_latlng(cell))
        corners = [latlng_to_unit_vector(lat, lng) for lat, lng in h3.cell_to_boundary(cell)]
        reach = max(haversine_to_m(haversine_of_vector_pair(centre, c)) for c in corners)
        start, end = self._slices.get(cell, (0, 0))
        if end > start:  # stores sit inside their cell; this guards against rounding at the edge
            farthest = float(haversine_of_vectors(centre, self._vectors[start:end]).max())
            reach = max(reach, haversine_to_m(farthest))
        geometry = (*centre, reach + _REACH_SLACK_M)
        self._geometry_cache[cell] = geometry
        return geometry

    def _settled_hits(
        self,
        found_pos: list[IntArray],
        found_hav: list[FloatArray],
        query: NearbyQuery,
        dynamic_ok: Callable[[Store], bool] | None,
        *,
        horizon_m: float,
    ) -> list[tuple[float, int]]:
        """(metres, position) of the hits known to be final: within the radius and nearer than
        anything not yet seen, nearest first, ties by id."""
        if not found_pos or min(horizon_m, query.radius_m) < 0:
            return []
        positions = found_pos[0] if len(found_pos) == 1 else np.concatenate(found_pos)
        hav = found_hav[0] if len(found_hav) == 1 else np.concatenate(found_hav)
        limit = query.limit
        if dynamic_ok is None:
            if hav.size > limit:
                # Only the nearest `limit` can be returned; keep haversine ties an ulp or so apart.
                kth = np.partition(hav, limit - 1)[limit - 1]
                chosen = np.flatnonzero(hav <= kth * (1 + 1e-12))
                positions, hav = positions[chosen], hav[chosen]
        else:  # a filter that rejects as it goes needs every candidate inside the horizon
            chosen = np.flatnonzero(hav <= _loose_haversine(min(horizon_m, query.radius_m)))
            positions, hav = positions[chosen], hav[chosen]
        order = np.lexsort((self._id_rank[positions], hav))
        settled: list[tuple[float, int]] = []
        last_m = -1.0
        tied = False
        for position, h in zip(positions[order].tolist(), hav[order].tolist(), strict=True):
            distance = haversine_to_m(h)
            if distance > query.radius_m or distance >= horizon_m:
                break
            if len(settled) >= limit and distance > last_m:
                break
            if dynamic_ok is None or dynamic_ok(self._stores[position]):
                tied = tied or distance == last_m
                settled.append((distance, position))
                last_m = distance
        if tied:  # equal metres can come from haversines one ulp apart: order those by id too
            settled.sort(key=lambda hit: (hit[0], self._stores[hit[1]].id))
        return settled


@dataclass(frozen=True, slots=True)
class _CellTable:
    """Cells with their geometry and runs of stores, as flat arrays for :mod:`geo.cell_kernel`.

    Rows past ``used`` are free. Cells are added in place while there is room (geometry first,
    then the key, so a reader never meets a key without its row) and by copy-and-swap when the
    table is full: readers keep whichever table they took.
    """

    keys: npt.NDArray[np.uint64]
    rows: IntArray
    cells: npt.NDArray[np.uint64]
    geometry: FloatArray
    spans: IntArray
    used: int

    @classmethod
    def of(
        cls, slices: dict[int, tuple[int, int]], geometry: dict[int, CellGeometry]
    ) -> _CellTable:
        cells = list(slices)
        table = cls._sized(len(cells))
        return table._filled(cells, [geometry[c] for c in cells], [slices[c] for c in cells])

    @classmethod
    def _sized(cls, capacity: int) -> _CellTable:
        slots = 1 << max(4, (2 * max(capacity, 1) - 1).bit_length())  # at most half full
        return cls(
            keys=np.zeros(slots, dtype=np.uint64),
            rows=np.zeros(slots, dtype=np.int64),
            cells=np.zeros(capacity, dtype=np.uint64),
            geometry=np.zeros((capacity, 4)),
            spans=np.zeros((capacity, 2), dtype=np.int64),
            used=0,
        )

    def with_cells(self, cells: list[int], geometry: list[CellGeometry]) -> _CellTable:
        """This table plus the empty ``cells`` not in it yet."""
        fresh = {
            c: g
            for c, g in zip(cells, geometry, strict=True)
            if self.keys[cell_kernel.find_slot(self.keys, np.uint64(c))] != c
        }
        if not fresh:
            return self
        table = self
        if self.used + len(fresh) > len(self.cells):
            table = _CellTable._sized(2 * (self.used + len(fresh)))
            used = self.used
            table.cells[:used] = self.cells[:used]
            table.geometry[:used] = self.geometry[:used]
            table.spans[:used] = self.spans[:used]
            cell_kernel.insert_cells(table.keys, table.rows, self.cells[:used], 0)
            table = _CellTable(
                table.keys, table.rows, table.cells, table.geometry, table.spans, used
            )
        return table._filled(list(fresh), list(fresh.values()), None)

    def _filled(
        self,
        cells: list[int],
        geometry: list[CellGeometry],
        spans: list[tuple[int, int]] | None,
    ) -> _CellTable:
        first = self.used
        end = first + len(cells)
        if cells:
            numbers = np.array(cells, dtype=np.uint64)
            self.cells[first:end] = numbers
            self.geometry[first:end] = geometry
            if spans is not None:
                self.spans[first:end] = spans
            cell_kernel.insert_cells(self.keys, self.rows, numbers, first)
        return _CellTable(self.keys, self.rows, self.cells, self.geometry, self.spans, end)


def choose_resolution(stores: Sequence[Store], *, target_per_cell: float = 24.0) -> int:
    """Pick the finest H3 resolution (6..10) at which a store's cell typically holds enough stores.

    A query then finds ``limit`` (20 by default) stores within the first disk of cells, which is
    the cheapest case; the answer is exact at any resolution, only the speed depends on it.
    """
    sample = stores[:: max(1, len(stores) // 50_000)]
    scale = len(stores) / max(1, len(sample))
    for resolution in range(10, 5, -1):
        counts: dict[int, int] = {}
        for s in sample:
            cell = h3.latlng_to_cell(s.lat, s.lng, resolution)
            counts[cell] = counts.get(cell, 0) + 1
        # store-weighted mean occupancy: how full the cell around a typical store is
        occupancy = sum(c * c for c in counts.values()) / max(1, len(sample)) * scale
        if occupancy >= target_per_cell:
            return resolution
    return 6


def _grid_ring(origin: int, k: int) -> list[int]:
    """Cells at exactly grid distance ``k`` (empty once the ring has run round the globe)."""
    try:
        return list(h3.grid_ring(origin, k))
    except H3BaseException:  # rings that meet a pentagon's distortion: take the difference
        return list(set(h3.grid_disk(origin, k)) - set(h3.grid_disk(origin, k - 1)))


def _loose_haversine(metres: float) -> float:
    """A haversine cut a hair above ``metres``; the exact test is then made on metres."""
    return m_to_haversine(metres) * (1 + 1e-9) + 1e-18


def _dynamic_filter(query: NearbyQuery) -> Callable[[Store], bool] | None:
    moment = query.open_at
    if moment is None:
        return None
    return lambda store: is_open(store, moment) is True
