"""Street travel times from an OpenStreetMap extract: a road-network :class:`TravelModel`.

The network is read once with osmnx from an OSM XML extract and cached on disk as plain arrays
(node positions and directed edges with lengths), so later starts skip the parse. Vehicles use
the streets they may use (no footways or steps; one-way rules kept); walkers use every way in
both directions. A trip is the straight walk from the point to its nearest network node, the
shortest street path, and the straight walk from the last node to the destination, at the
vehicle's speed: so a road time is never shorter than the straight-line time at that speed.

A point farther than ``SNAP_LIMIT_M`` from every node of a network is outside it: a trip from or
to it takes the straight-line model's time (:class:`geo.travel.StraightLineTravel`), never a
street route from a distant node. :class:`RoadNetworksTravel` holds the networks of several cities
and gives each pair of points the network that covers both, straight lines otherwise.
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

from geo.distance import (
    haversine_m,
    haversine_m_many,
    haversine_of_vectors,
    latlng_to_unit_vector,
    latlngs_to_unit_vectors,
)
from geo.travel import LatLng, StraightLineTravel, speed_of

# Ways a vehicle may drive or ride on; walkers may use any way.
VEHICLE_WAYS = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "living_street", "service", "road",
}  # fmt: skip
CACHE_VERSION = 1
# Farther than this from every node of a network, a point is outside it (nodes sit at street
# crossings, a few hundred metres apart at most where streets are mapped).
SNAP_LIMIT_M = 300.0

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
        self._vectors = {k: latlngs_to_unit_vectors(n.lats, n.lngs) for k, n in self._nets.items()}
        self._outside = StraightLineTravel()

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

    def access_m(self, points: Sequence[LatLng], *, vehicle: str) -> FloatArray:
        """Straight metres from each point to its nearest node of the vehicle's network; the
        point is inside the network when this is at most ``SNAP_LIMIT_M``."""
        return self._snap(points, vehicle=vehicle)[1]

    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        return float(self._seconds([a], [b], vehicle=vehicle)[0][0])

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        seconds = np.rint(self._seconds(points, points, vehicle=vehicle)).astype(int)
        np.fill_diagonal(seconds, 0)
        return seconds.tolist()  # type: ignore[no-any-return]

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        net = self._net(vehicle)
        (start, end), access = self._snap([a, b], vehicle=vehicle)
        if access.max() > SNAP_LIMIT_M:  # an end outside the streets: straight there
            return [a, b]
        _, previous = dijkstra(net.graph, directed=True, indices=int(start),
                               return_predecessors=True)  # fmt: skip
        nodes = [int(end)]
        while nodes[-1] != start and previous[nodes[-1]] >= 0:
            nodes.append(int(previous[nodes[-1]]))
        if nodes[-1] != start:  # no street route: straight there
            return [a, b]
        streets = [(float(net.lats[n]), float(net.lngs[n])) for n in reversed(nodes)]
        return [a, *streets, b]

    def _net(self, vehicle: str) -> _Network:
        speed_of(vehicle)  # the same refusal of unknown vehicles as the other models
        return self._nets["walk" if vehicle == "walk" else "vehicle"]

    def _snap(
        self, points: Sequence[LatLng], *, vehicle: str
    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        kind = "walk" if vehicle == "walk" else "vehicle"
        return _snap(self._net(vehicle), self._vectors[kind], points)

    def _seconds(
        self, sources: Sequence[LatLng], targets: Sequence[LatLng], *, vehicle: str
    ) -> FloatArray:
        """Seconds from every source to every target: along the streets between points inside
        the network, the straight-line model's time where an end is outside it."""
        net = self._net(vehicle)
        src_nodes, src_access = self._snap(sources, vehicle=vehicle)
        dst_nodes, dst_access = (
            (src_nodes, src_access) if targets is sources else self._snap(targets, vehicle=vehicle)
        )
        straight = _pairwise_m(sources, targets)
        seconds: FloatArray = straight * self._outside.circuity / speed_of(vehicle)
        inside_src = np.flatnonzero(src_access <= SNAP_LIMIT_M)
        inside_dst = np.flatnonzero(dst_access <= SNAP_LIMIT_M)
        if not (len(inside_src) and len(inside_dst)):
            return seconds
        unique, inverse = np.unique(src_nodes[inside_src], return_inverse=True)
        along = dijkstra(net.graph, directed=True, indices=unique)[:, dst_nodes[inside_dst]]
        total = src_access[inside_src, None] + along[inverse] + dst_access[None, inside_dst]
        beeline = straight[np.ix_(inside_src, inside_dst)]
        # Never shorter than the straight line (an unreachable pair falls back to it, stretched).
        total = np.where(np.isfinite(total), np.maximum(total, beeline), beeline * 2.0)
        seconds[np.ix_(inside_src, inside_dst)] = total / speed_of(vehicle)
        return seconds


class RoadNetworksTravel:
    """A :class:`geo.travel.TravelModel` over the streets of several cities.

    Each point belongs to the network whose nearest node is closest to it, within
    ``SNAP_LIMIT_M``; a pair inside one network travels its streets, any other pair (across two
    networks, or an end outside every one) takes the straight-line model's time.
    """

    def __init__(self, networks: Sequence[RoadNetworkTravel]) -> None:
        self._networks = tuple(networks)
        self._outside = StraightLineTravel()

    def network_of(self, points: Sequence[LatLng], *, vehicle: str) -> npt.NDArray[np.int64]:
        """The index of the network each point is inside, -1 for a point outside every one."""
        owner = np.full(len(points), -1, dtype=np.int64)
        if not (self._networks and len(points)):
            return owner
        access = np.array([n.access_m(points, vehicle=vehicle) for n in self._networks])
        nearest = np.argmin(access, axis=0)
        inside = access[nearest, np.arange(len(points))] <= SNAP_LIMIT_M
        owner[inside] = nearest[inside]
        return owner

    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        network = self._shared_network(a, b, vehicle=vehicle)
        if network is None:
            return self._outside.seconds(a, b, vehicle=vehicle)
        return network.seconds(a, b, vehicle=vehicle)

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        seconds = np.array(self._outside.matrix_seconds(points, vehicle=vehicle), dtype=np.int64)
        owner = self.network_of(points, vehicle=vehicle)
        for k, network in enumerate(self._networks):
            members = np.flatnonzero(owner == k)
            if len(members):
                inside = network.matrix_seconds([points[int(i)] for i in members], vehicle=vehicle)
                seconds[np.ix_(members, members)] = inside
        return seconds.reshape(len(points), len(points)).tolist()  # type: ignore[no-any-return]

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        network = self._shared_network(a, b, vehicle=vehicle)
        if network is None:
            return self._outside.path(a, b, vehicle=vehicle)
        return network.path(a, b, vehicle=vehicle)

    def _shared_network(self, a: LatLng, b: LatLng, *, vehicle: str) -> RoadNetworkTravel | None:
        first, second = self.network_of([a, b], vehicle=vehicle)
        return self._networks[first] if first == second and first >= 0 else None


def _pairwise_m(sources: Sequence[LatLng], targets: Sequence[LatLng]) -> FloatArray:
    """Great-circle metres from every source (rows) to every target (columns)."""
    lats = np.array([t[0] for t in targets], dtype=np.float64)
    lngs = np.array([t[1] for t in targets], dtype=np.float64)
    rows = [haversine_m_many(lat, lng, lats, lngs) for lat, lng in sources]
    return np.array(rows, dtype=np.float64).reshape(len(sources), len(targets))


def _snap(
    net: _Network, vectors: FloatArray, points: Sequence[LatLng]
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The nearest network node of each point and the straight distance to it (``vectors``: the
    nodes' unit vectors, made once per network)."""
    nodes = np.empty(len(points), dtype=np.int64)
    access = np.empty(len(points))
    for i, (lat, lng) in enumerate(points):
        nodes[i] = int(np.argmin(haversine_of_vectors(latlng_to_unit_vector(lat, lng), vectors)))
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
