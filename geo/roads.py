"""Street travel times from an OpenStreetMap extract: a road-network :class:`TravelModel`.

The network is read once with osmnx from an OSM XML extract and cached on disk as plain arrays
(node positions and directed edges with lengths), so later starts skip the parse. Vehicles use
the streets they may use (no footways or steps; one-way rules kept); walkers use every way in
both directions. A trip is the straight walk from the point to its nearest network node, the
shortest street path, and the straight walk from the last node to the destination, at the
vehicle's speed: so a road time is never shorter than the straight-line time at that speed.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from geo.distance import haversine_m, haversine_m_many
from geo.travel import LatLng, speed_of

# Ways a vehicle may drive or ride on; walkers may use any way.
VEHICLE_WAYS = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "living_street", "service", "road",
}  # fmt: skip
CACHE_VERSION = 1

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _Network:
    lats: FloatArray
    lngs: FloatArray
    graph: csr_matrix  # metres along streets, directed


class RoadNetworkTravel:
    """A :class:`geo.travel.TravelModel` over the streets of one OSM extract."""

    def __init__(self, vehicle_net: _Network, walk_net: _Network) -> None:
        self._nets = {"vehicle": vehicle_net, "walk": walk_net}

    @classmethod
    def from_osm(cls, path: Path, *, cache_dir: Path) -> RoadNetworkTravel:
        """Build from an ``.osm``/``.osm.bz2`` extract, or load the cached build of it."""
        cache = cache_dir / f"{path.name}.roads-v{CACHE_VERSION}.pickle"
        if cache.exists() and cache.stat().st_mtime >= path.stat().st_mtime:
            with cache.open("rb") as handle:
                nets = pickle.load(handle)
        else:
            nets = _build(path)
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(f".{os.getpid()}.part")  # several processes may build
            with partial.open("wb") as handle:
                pickle.dump(nets, handle)
            partial.replace(cache)
        return cls(nets["vehicle"], nets["walk"])

    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        metres = self._metres([a], [b], vehicle=vehicle)[0][0]
        return float(metres / speed_of(vehicle))

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        metres = self._metres(points, points, vehicle=vehicle)
        seconds = np.rint(metres / speed_of(vehicle)).astype(int)
        np.fill_diagonal(seconds, 0)
        return seconds.tolist()  # type: ignore[no-any-return]

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        speed_of(vehicle)
        net = self._nets["walk" if vehicle == "walk" else "vehicle"]
        (start, end), _ = _snap(net, [a, b])
        _, previous = dijkstra(net.graph, directed=True, indices=int(start),
                               return_predecessors=True)  # fmt: skip
        nodes = [int(end)]
        while nodes[-1] != start and previous[nodes[-1]] >= 0:
            nodes.append(int(previous[nodes[-1]]))
        if nodes[-1] != start:  # no street route: straight there
            return [a, b]
        streets = [(float(net.lats[n]), float(net.lngs[n])) for n in reversed(nodes)]
        return [a, *streets, b]

    def _metres(
        self, sources: Sequence[LatLng], targets: Sequence[LatLng], *, vehicle: str
    ) -> FloatArray:
        net = self._nets["walk" if vehicle == "walk" else "vehicle"]
        src_nodes, src_access = _snap(net, sources)
        dst_nodes, dst_access = _snap(net, targets)
        unique, inverse = np.unique(src_nodes, return_inverse=True)
        along = dijkstra(net.graph, directed=True, indices=unique)[:, dst_nodes][inverse]
        total: FloatArray = src_access[:, None] + along + dst_access[None, :]
        # Never shorter than the straight line (an unreachable pair falls back to it, stretched).
        for i, (lat, lng) in enumerate(sources):
            straight = haversine_m_many(
                lat, lng, np.array([t[0] for t in targets]), np.array([t[1] for t in targets])
            )
            row = total[i]
            row[~np.isfinite(row)] = straight[~np.isfinite(row)] * 2.0
            total[i] = np.maximum(row, straight)
        return total


def _snap(net: _Network, points: Sequence[LatLng]) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The nearest network node of each point and the straight distance to it."""
    nodes = np.empty(len(points), dtype=np.int64)
    access = np.empty(len(points))
    for i, (lat, lng) in enumerate(points):
        distances = haversine_m_many(lat, lng, net.lats, net.lngs)
        nodes[i] = int(np.argmin(distances))
        access[i] = haversine_m(lat, lng, float(net.lats[nodes[i]]), float(net.lngs[nodes[i]]))
    return nodes, access


def _build(path: Path) -> dict[str, _Network]:
    import osmnx  # heavy: only needed when building, not when loading the cache

    graph = osmnx.graph_from_xml(path, simplify=True, retain_all=True)
    ids = list(graph.nodes)
    lats = np.array([graph.nodes[n]["y"] for n in ids], dtype=np.float64)
    lngs = np.array([graph.nodes[n]["x"] for n in ids], dtype=np.float64)
    position = {node: i for i, node in enumerate(ids)}
    drive: list[tuple[int, int, float]] = []
    walk: list[tuple[int, int, float]] = []
    for u, v, data in graph.edges(data=True):
        kinds = data.get("highway")
        if kinds is None:
            continue
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        a, b = position[u], position[v]
        # a street is never shorter than the straight line between its ends
        length = max(float(data["length"]), haversine_m(lats[a], lngs[a], lats[b], lngs[b]))
        walk += [(a, b, length), (b, a, length)]
        if kinds & VEHICLE_WAYS:
            drive.append((a, b, length))
    return {"vehicle": _network(lats, lngs, drive), "walk": _network(lats, lngs, walk)}


def _network(lats: FloatArray, lngs: FloatArray, edges: list[tuple[int, int, float]]) -> _Network:
    """The shortest of parallel streets, restricted to the largest strongly connected part so
    every snapped pair of points has a route."""
    shortest: dict[tuple[int, int], float] = {}
    for a, b, length in edges:
        shortest[a, b] = min(length, shortest.get((a, b), np.inf))
    size = len(lats)
    pairs = list(shortest)
    graph = csr_matrix(
        ([shortest[p] for p in pairs], ([p[0] for p in pairs], [p[1] for p in pairs])),
        shape=(size, size),
    )
    _, labels = connected_components(graph, directed=True, connection="strong")
    keep = np.flatnonzero(labels == np.bincount(labels).argmax())
    return _Network(lats[keep], lngs[keep], graph[keep][:, keep].tocsr())
