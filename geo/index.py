"""The H3 store index: exact radius and k-nearest queries.

Stores are bucketed by H3 cell. A query walks rings of cells outward from the cell of the query
point and stops as soon as nothing outside the rings walked can beat what was found (the walk is
compiled: :mod:`geo.cell_kernel`). The stop
rule is a proof, not a heuristic: any point outside ``grid_disk(origin, k)`` is reached from the
query point only by crossing a cell of ring ``k + 1``, so its distance is at least
``min over ring k+1 of (distance to the cell centre - the cell's reach)``, where the reach is the
farthest of the cell's vertices and of its own stores from its centre. Distances are computed by
:mod:`geo.distance` exactly as a brute-force scan computes them, and ordered by (distance, id), so
the answer is the brute-force answer, stores on the radius and in distance ties included.

An index is flat arrays plus the stores; :meth:`StoreIndex.save` writes it to a folder that
:meth:`StoreIndex.load` maps read-only, so the workers of a machine share one copy in the page
cache and a worker is ready in well under a second, making a store object only when a query or a
lookup returns it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3

from geo import cell_kernel
from geo.distance import (
    FloatArray,
    check_latlng,
    haversine_of_vector_pair,
    haversine_to_m,
    latlng_to_unit_vector,
    latlngs_to_unit_vectors,
)
from geo.stores import STORE_KINDS, Store

# Guards the pruning bound against rounding in cell vertices and centres (metres).
_REACH_SLACK_M = 0.05
_ANY = np.zeros(0, dtype=np.bool_)  # a kind or brand mask that lets everything through
_FORMAT = 1  # of a saved index folder; bump when its files change
_STORE_CACHE_LIMIT = 200_000  # stores made from a mapped file kept at once
DEFAULT_BUFFER = 256  # hits a thread's kernel buffers hold before they grow

IntArray = npt.NDArray[np.int64]
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
    delivers_to: tuple[float, float] | None = None  # (lat, lng) the store must deliver to

    def __post_init__(self) -> None:
        check_latlng(self.lat, self.lng)
        if self.delivers_to is not None:
            check_latlng(*self.delivers_to)
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
        return _passes_late_filters(store, self)


class Ranked(NamedTuple):
    """A query's answer as index positions (:meth:`StoreIndex.store_at`) and metres."""

    positions: list[int]
    metres: list[float]


class _Buffers:
    """A thread's arrays for the kernel's answer: positions (or missing cells) and metres."""

    def __init__(self) -> None:
        self.positions = np.empty(max(DEFAULT_BUFFER, cell_kernel.MAX_MISSING), dtype=np.int64)
        self.metres = np.empty(self.positions.size)


class StoreHit(NamedTuple):
    """A store and its distance from the query point (a named tuple: made by the thousand)."""

    store: Store
    distance_m: float


def is_open(store: Store, moment: datetime) -> bool | None:
    """Open at ``moment``, closed, or None when the store's hours are unknown."""
    if store.hours is None:
        return None
    return store.hours.is_open_at(moment, store.zone)


def _passes_late_filters(store: Store, query: NearbyQuery) -> bool:
    """The filters checked in Python on the kernel's nearest-first prefix: opening hours and
    delivery coverage (a zone's polygon or the radius, :meth:`Store.delivers_to`)."""
    if query.open_at is not None and is_open(store, query.open_at) is not True:
        return False
    return query.delivers_to is None or store.delivers_to(*query.delivers_to)


class StoreIndex:
    """An immutable H3 bucket index over a catalogue; build a new one to change the catalogue."""

    def __init__(self, stores: Sequence[Store], *, resolution: int | None = None) -> None:
        if resolution is None:
            resolution = choose_resolution(stores)
        if not 0 <= resolution <= 15:
            msg = "resolution must be in 0..15"
            raise ValueError(msg)
        cells = np.fromiter(
            (h3.latlng_to_cell(s.lat, s.lng, resolution) for s in stores),
            dtype=np.uint64,
            count=len(stores),
        )
        order = np.argsort(cells, kind="stable")
        rows = _StoreList([stores[i] for i in order])
        vectors = latlngs_to_unit_vectors(
            (s.lat for s in rows.stores), (s.lng for s in rows.stores)
        )
        brands = sorted({s.brand.casefold() for s in rows.stores})
        brand_codes = {brand: code for code, brand in enumerate(brands)}
        columns = np.zeros((len(rows), 4), dtype=np.int64)
        if len(rows):
            columns[:, 0] = rows.id_ranks()
            columns[:, 1] = [STORE_KINDS.index(s.kind) for s in rows.stores]
            columns[:, 2] = [brand_codes[s.brand.casefold()] for s in rows.stores]
            columns[:, 3] = [s.partner for s in rows.stores]
        table = _occupied_cells(cells[order], vectors, resolution)
        self._setup(resolution, rows, vectors, columns, brands, table)

    def _setup(
        self,
        resolution: int,
        rows: _StoreList | _StoreFile,
        vectors: FloatArray,
        columns: IntArray,
        brands: list[str],
        table: _CellTable,
    ) -> None:
        self.resolution = resolution
        self._rows = rows
        # position -> store: a list's own __getitem__ where there is a list (twenty a query)
        self._store_at = (
            rows.stores.__getitem__ if isinstance(rows, _StoreList) else rows.__getitem__
        )
        # plain arrays, not np.memmap: numba reads a subclass's type the slow way on every call
        self._vectors = np.asarray(vectors)
        self._columns = np.asarray(columns)
        self._local = threading.local()
        self.brands: frozenset[str] = frozenset(brands)
        self._brand_codes = {brand: code for code, brand in enumerate(brands)}
        self._table = table
        self._table_lock = threading.Lock()

    # -- a saved index -----------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` (made; must not exist) for :meth:`load`."""
        folder.mkdir(parents=True)
        records = [
            json.dumps(self._rows[p].to_record(), ensure_ascii=False).encode()
            for p in range(len(self))
        ]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in records], out=offsets[1:])
        with (folder / "records.bin").open("wb") as out:
            out.writelines(records)
        ids = self._rows.ids_sorted()
        id_bytes = np.array([i.encode() for i in ids], dtype=bytes) if ids else np.zeros(0, "S1")
        positions = np.argsort(self._columns[:, 0]).astype(np.int64)  # rank -> position
        table = self._table.occupied()
        arrays = {
            "offsets": offsets,
            "ids": id_bytes,
            "id_positions": positions,
            "vectors": self._vectors,
            "columns": self._columns,
            "cells": table.cells[: table.used],
            "geometry": table.geometry[: table.used],
            "spans": table.spans[: table.used],
        }
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", np.ascontiguousarray(array))
        meta = {"format": _FORMAT, "resolution": self.resolution, "brands": sorted(self.brands)}
        (folder / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> StoreIndex:
        """Map an index written by :meth:`save` (read-only, shared with other processes)."""
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != _FORMAT:
            msg = f"{folder}: index format {meta.get('format')}, expected {_FORMAT}"
            raise ValueError(msg)

        def mapped(name: str) -> Any:
            return np.load(folder / f"{name}.npy", mmap_mode="r")

        size = os.path.getsize(folder / "records.bin")
        records = (
            np.memmap(folder / "records.bin", dtype=np.uint8, mode="r")
            if size
            else np.zeros(0, dtype=np.uint8)
        )
        rows = _StoreFile(records, mapped("offsets"), mapped("ids"), mapped("id_positions"))
        cells = np.array(mapped("cells"))
        table = _CellTable._sized(2 * len(cells))._filled(
            cells.tolist(), np.array(mapped("geometry")), np.array(mapped("spans"))
        )
        index = cls.__new__(cls)
        index._setup(
            meta["resolution"], rows, mapped("vectors"), mapped("columns"), meta["brands"], table
        )
        return index

    # -- the catalogue -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Store]:
        """Stores in ascending id order."""
        rows = self._rows
        for store_id in rows.ids_sorted():
            position = rows.position(store_id)
            assert position is not None
            yield rows[position]

    def get(self, store_id: str) -> Store | None:
        position = self._rows.position(store_id)
        return None if position is None else self._rows[position]

    def ids_sorted(self) -> Sequence[str]:
        """Every store id in ascending order (for stable pagination)."""
        return self._rows.ids_sorted()

    # -- queries -----------------------------------------------------------------------------

    def nearby(self, query: NearbyQuery) -> list[StoreHit]:
        """Return up to ``limit`` stores within ``radius_m`` passing the filters, nearest first.

        The walk starts at the finest level whose first disk likely holds the answer; when its
        rings do not settle the answer (a sparse area, a rare filter, a wide radius) it starts
        again one resolution coarser. Opening hours and ``delivers_to`` are checked in Python on a
        growing prefix of the nearest stores passing the other filters: the first ``limit`` open
        stores of an exact nearest-first prefix are the first ``limit`` open stores overall.
        """
        positions, metres = self.ranked(query)
        return list(map(_new_hit, zip(map(self._store_at, positions), metres, strict=True)))

    def ranked(self, query: NearbyQuery) -> Ranked:
        """:meth:`nearby` as positions in the index (:meth:`store_at`) and metres, making no
        store object unless opening hours must be read: what a caller that only needs a few
        fields of each hit (or its cached JSON) asks for."""
        if not len(self):
            return Ranked([], [])
        if query.open_at is None and query.delivers_to is None:
            return self._ranked(query, query.limit)
        fetch = query.limit * 4
        store_at = self._store_at
        while True:
            positions, metres = self._ranked(query, min(fetch, len(self)))
            open_hits = [
                (p, d)
                for p, d in zip(positions, metres, strict=True)
                if _passes_late_filters(store_at(p), query)
            ][: query.limit]
            if len(open_hits) >= query.limit or len(positions) < fetch or fetch >= len(self):
                return Ranked([p for p, _ in open_hits], [d for _, d in open_hits])
            fetch *= 4

    def store_at(self, position: int) -> Store:
        """The store at a position :meth:`ranked` returned."""
        return self._store_at(position)

    def _ranked(self, query: NearbyQuery, limit: int) -> Ranked:
        """The ``limit`` nearest stores passing the filters other than opening hours."""
        kind_ok, brand_ok, partner = self._static_masks(query)
        buffers = self._buffers
        # positions of the hits, or the cells whose geometry is missing
        positions = buffers.positions
        if positions.size < limit:
            positions = buffers.positions = np.empty(limit, dtype=np.int64)
            buffers.metres = np.empty(limit)
        metres = buffers.metres
        nearest = cell_kernel.nearest
        while True:
            table = self._table
            n = nearest(
                table.keys, table.rows, table.geometry, table.spans, self._vectors,
                self._columns, kind_ok, brand_ok, partner, self.resolution, query.lat,
                query.lng, query.radius_m, limit, positions, metres,
            )  # fmt: skip
            if n >= -1:
                break
            self._add_geometry(positions[: -1 - n].tolist())
        if n == cell_kernel.UNSETTLED_CODE:
            px, py, pz = latlng_to_unit_vector(query.lat, query.lng)
            n = cell_kernel.scan(
                self._vectors, self._columns, kind_ok, brand_ok, partner, px, py, pz,
                query.radius_m, limit, positions, metres,
            )  # fmt: skip
        return Ranked(positions[:n].tolist(), metres[:n].tolist())

    @property
    def _buffers(self) -> _Buffers:
        """This thread's output arrays for the kernel (reused: a query copies its answer out)."""
        try:
            return self._local.buffers  # type: ignore[no-any-return]
        except AttributeError:
            buffers = self._local.buffers = _Buffers()
            return buffers

    def _static_masks(
        self, query: NearbyQuery
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], int]:
        """The filters as the kernel takes them: kind and brand masks (empty: any), partner
        -1 (any), 0 or 1."""
        if query.kinds is None and query.brands is None and query.partner is None:
            return _ANY, _ANY, -1
        kind_ok = _ANY
        if query.kinds is not None:
            kind_ok = np.array([k in query.kinds for k in STORE_KINDS], dtype=np.bool_)
        brand_ok = _ANY
        if query.brands is not None:
            brand_ok = np.zeros(max(1, len(self._brand_codes)), dtype=np.bool_)
            for brand in query.brands:
                if (code := self._brand_codes.get(brand)) is not None:
                    brand_ok[code] = True
        partner = -1 if query.partner is None else int(query.partner)
        return kind_ok, brand_ok, partner

    def _add_geometry(self, cells: list[int]) -> None:
        """Give the kernel the geometry of empty cells it met on a ring (computed once each)."""
        geometry = [_cell_geometry(cell) for cell in cells]
        with self._table_lock:
            self._table = self._table.with_cells(cells, geometry)


class _StoreList:
    """The stores of an index built in this process, in index order."""

    def __init__(self, stores: list[Store]) -> None:
        self.stores = stores
        self._position = {s.id: p for p, s in enumerate(stores)}
        if len(self._position) != len(stores):
            msg = "store ids must be unique"
            raise ValueError(msg)
        self._ids_sorted = sorted(self._position)

    def __len__(self) -> int:
        return len(self.stores)

    def __getitem__(self, position: int) -> Store:
        return self.stores[position]

    def position(self, store_id: str) -> int | None:
        return self._position.get(store_id)

    def ids_sorted(self) -> Sequence[str]:
        return self._ids_sorted

    def id_ranks(self) -> IntArray:
        rank = {store_id: r for r, store_id in enumerate(self._ids_sorted)}
        return np.array([rank[s.id] for s in self.stores], dtype=np.int64)


class _StoreFile:
    """The stores of a saved index: JSON records in a mapped file, made into stores on demand.

    A bounded cache keeps the stores recently made (a dict: safe to share between threads; when
    full, the older half goes).
    """

    def __init__(
        self,
        records: npt.NDArray[np.uint8],
        offsets: npt.NDArray[np.generic],
        ids: npt.NDArray[np.generic],
        id_positions: npt.NDArray[np.generic],
    ) -> None:
        # plain views of the maps: slicing an np.memmap runs Python code for every new view
        self._records = np.asarray(records)
        self._offsets = np.asarray(offsets)
        self._ids = ids
        self._id_positions = id_positions
        self._cache: dict[int, Store] = {}
        self._sorted = _IdSequence(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, position: int) -> Store:
        store = self._cache.get(position)
        if store is None:
            start, end = self._offsets[position : position + 2].tolist()
            store = Store.from_checked_record(json.loads(self._records[start:end].tobytes()))
            cache = self._cache
            if len(cache) >= _STORE_CACHE_LIMIT:
                self._cache = cache = dict(itertools.islice(cache.items(), len(cache) // 2, None))
            cache[position] = store
        return store

    def position(self, store_id: str) -> int | None:
        key = store_id.encode()
        if not self._ids.size or len(key) > self._ids.dtype.itemsize:
            return None
        i = int(np.searchsorted(self._ids, key))
        if i < len(self._ids) and self._ids[i] == key:
            return int(self._id_positions[i])
        return None

    def ids_sorted(self) -> Sequence[str]:
        return self._sorted


class _IdSequence(Sequence[str]):
    """Sorted ids decoded from a mapped array as they are read."""

    def __init__(self, ids: npt.NDArray[np.generic]) -> None:
        self._ids = ids

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [bytes(b).decode() for b in self._ids[i]]
        return bytes(self._ids[i]).decode()


def _occupied_cells(
    cells: npt.NDArray[np.uint64], vectors: FloatArray, resolution: int
) -> _CellTable:
    """Every cell holding stores, at every level down to 0, with geometry and its run of stores.

    ``cells`` are the stores' cells in index order (sorted): a coarser cell's children are
    adjacent in H3 integer order, so each cell's stores are one run at every level.
    """
    numbers: list[int] = []
    geometry: list[FloatArray] = []
    spans: list[IntArray] = []
    for level in range(resolution, -1, -1):
        here = cells if level == resolution else cell_kernel.parents(cells, level)
        unique, starts = np.unique(here, return_index=True)
        ends = np.append(starts[1:], len(cells)).astype(np.int64)[: len(starts)]
        shapes = np.array([_cell_geometry(cell) for cell in unique.tolist()]).reshape(-1, 4)
        # stores sit inside their cell; this guards against rounding at the edge
        farthest = cell_kernel.farthest_metres(vectors, starts.astype(np.int64), ends, shapes)
        shapes[:, 3] = np.maximum(shapes[:, 3], farthest + _REACH_SLACK_M)
        numbers.extend(unique.tolist())
        geometry.append(shapes)
        spans.append(np.column_stack([starts, ends]).astype(np.int64).reshape(-1, 2))
    table = _CellTable._sized(2 * len(numbers))
    return table._filled(numbers, np.concatenate(geometry), np.concatenate(spans))


def _cell_geometry(cell: int) -> CellGeometry:
    """The cell's centre and reach: the farthest of its vertices, plus slack."""
    centre = latlng_to_unit_vector(*h3.cell_to_latlng(cell))
    corners = [latlng_to_unit_vector(lat, lng) for lat, lng in h3.cell_to_boundary(cell)]
    reach = max(haversine_to_m(haversine_of_vector_pair(centre, c)) for c in corners)
    return (*centre, reach + _REACH_SLACK_M)


# StoreHit(store, d) goes through a Python-level __new__; tuple.__new__ makes the same named
# tuple from the (store, d) pair in a third of the time, which shows at twenty hits a query
_new_hit = functools.partial(tuple.__new__, StoreHit)


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

    def occupied(self) -> _CellTable:
        """The rows holding stores (they come first: empty cells are only ever added later)."""
        used = int(np.count_nonzero(self.spans[: self.used, 1] > self.spans[: self.used, 0]))
        return _CellTable(self.keys, self.rows, self.cells, self.geometry, self.spans, used)

    def _filled(
        self,
        cells: list[int],
        geometry: list[CellGeometry] | FloatArray,
        spans: list[tuple[int, int]] | IntArray | None,
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
