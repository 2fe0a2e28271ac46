"""The H3 index answers exactly what a brute-force haversine scan answers."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime

import numpy as np
import pytest
from h3.api import basic_int as h3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.distance import haversine_m
from geo.index import NearbyQuery, StoreIndex, choose_resolution
from geo.stores import STORE_KINDS, Store

PENTAGON_8 = h3.cell_to_latlng(h3.get_pentagons(8)[3])
CENTRES = {
    "taichung": (24.18, 120.60),
    "helsinki": (60.17, 24.94),
    "longyearbyen": (78.22, 15.65),
    "antimeridian": (-18.0, 179.995),
    "equator": (-0.18, -78.47),
    "buenos_aires": (-34.6, -58.4),
    "pentagon": PENTAGON_8,
}
BRANDS = ("7-Eleven", "FamilyMart", "Hi-Life")


def wrap(lat: float, lng: float) -> tuple[float, float]:
    lat = max(-90.0, min(90.0, lat))
    lng = (lng + 180.0) % 360.0 - 180.0
    return lat, lng


def make_stores(centre: tuple[float, float], spread: float, count: int, seed: int) -> list[Store]:
    rng = np.random.default_rng(seed)
    stores = []
    for i in range(count):
        if i and rng.random() < 0.1:  # some stores share a spot exactly: ties to break by id
            lat, lng = stores[int(rng.integers(len(stores)))].lat, stores[-1].lng
        else:
            lat, lng = wrap(centre[0] + rng.normal(0, spread), centre[1] + rng.normal(0, spread))
        stores.append(
            Store(
                id=f"s{int(rng.integers(10**6)):06d}-{i}",
                name=f"store {i}",
                brand=BRANDS[int(rng.integers(len(BRANDS)))],
                kind=STORE_KINDS[int(rng.integers(2))],
                partner=bool(rng.random() < 0.7),
                lat=lat,
                lng=lng,
                opening_hours="Mo-Su 08:00-20:00" if rng.random() < 0.5 else "24/7",
            )
        )
    return stores


def brute_force(stores: list[Store], query: NearbyQuery) -> list[tuple[str, float]]:
    hits = []
    for store in stores:
        distance = haversine_m(query.lat, query.lng, store.lat, store.lng)
        if distance <= query.radius_m and query.accepts(store):
            hits.append((distance, store.id))
    hits.sort()
    return [(store_id, distance) for distance, store_id in hits[: query.limit]]


def answer(index: StoreIndex, query: NearbyQuery) -> list[tuple[str, float]]:
    return [(hit.store.id, hit.distance_m) for hit in index.nearby(query)]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Store], StoreIndex, NearbyQuery]:
    centre = CENTRES[draw(st.sampled_from(sorted(CENTRES)))]
    spread = draw(st.sampled_from([0.0005, 0.005, 0.03, 0.2]))
    stores = make_stores(centre, spread, draw(st.integers(0, 250)), draw(st.integers(0, 2**32)))
    resolution = draw(st.one_of(st.none(), st.integers(5, 11)))
    index = StoreIndex(stores, resolution=resolution)
    q_lat, q_lng = wrap(
        centre[0] + draw(st.floats(-2, 2)) * spread, centre[1] + draw(st.floats(-2, 2)) * spread
    )
    radius = draw(st.sampled_from([0.0, 30.0, 300.0, 1000.0, 3000.0, 20_000.0, 50_000.0]))
    if stores and draw(st.booleans()):
        # put a store exactly on the radius
        target = stores[draw(st.integers(0, len(stores) - 1))]
        radius = haversine_m(q_lat, q_lng, target.lat, target.lng)
    filters = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "kinds": st.frozensets(st.sampled_from(STORE_KINDS), min_size=1),
                "brands": st.frozensets(
                    st.sampled_from([b.casefold() for b in BRANDS]), min_size=1
                ),
                "partner": st.booleans(),
                "open_at": st.just(datetime(2026, 11, 18, 22, 30, tzinfo=UTC)),
            },
        )
    )
    query = NearbyQuery(
        lat=q_lat, lng=q_lng, radius_m=radius, limit=draw(st.integers(1, 200)), **filters
    )
    return stores, index, query


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_index_equals_brute_force(scenario: tuple[list[Store], StoreIndex, NearbyQuery]) -> None:
    """Same stores, same order, same distances: cities, latitudes, radii, densities, filters."""
    stores, index, query = scenario
    assert answer(index, query) == brute_force(stores, query)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(sorted(CENTRES)))
def test_store_on_the_radius_is_included(seed: int, city: str) -> None:
    """A store exactly radius_m away is in; one a hair farther is out."""
    stores = make_stores(CENTRES[city], 0.01, 50, seed)
    index = StoreIndex(stores)
    q_lat, q_lng = CENTRES[city]
    for target in stores[:10]:
        radius = haversine_m(q_lat, q_lng, target.lat, target.lng)
        ids = {hit.store.id for hit in index.nearby(NearbyQuery(q_lat, q_lng, radius, 200))}
        assert target.id in ids
        narrower = NearbyQuery(q_lat, q_lng, np.nextafter(radius, 0.0), 200)
        assert target.id not in {hit.store.id for hit in index.nearby(narrower)}


def test_k_nearest_does_not_need_the_whole_radius() -> None:
    """k-nearest with a 50 km cap returns the k nearest, the same as brute force."""
    stores = make_stores(CENTRES["taichung"], 0.05, 2000, 7)
    index = StoreIndex(stores)
    query = NearbyQuery(24.18, 120.60, 50_000.0, 5)
    assert answer(index, query) == brute_force(stores, query)
    assert len(answer(index, query)) == 5


def test_empty_index_answers_nothing() -> None:
    """No stores, no hits, even with the largest radius."""
    assert StoreIndex([]).nearby(NearbyQuery(0.0, 0.0, 50_000.0, 20)) == []


def test_lookup_and_iteration() -> None:
    """get() finds by id; iteration is in id order."""
    stores = make_stores(CENTRES["helsinki"], 0.01, 30, 3)
    index = StoreIndex(stores)
    assert index.get(stores[5].id) == stores[5]
    assert index.get("missing") is None
    assert [s.id for s in index] == sorted(s.id for s in stores)


def test_duplicate_ids_are_refused() -> None:
    """Two stores with one id cannot be indexed."""
    store = make_stores(CENTRES["helsinki"], 0.01, 1, 3)[0]
    with pytest.raises(ValueError, match="unique"):
        StoreIndex([store, store])


def test_resolution_follows_density() -> None:
    """Dense catalogues get finer cells than sparse ones."""
    dense = make_stores(CENTRES["taichung"], 0.005, 3000, 1)
    sparse = make_stores(CENTRES["taichung"], 0.5, 3000, 1)
    assert choose_resolution(dense) > choose_resolution(sparse)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lat": 91.0, "lng": 0.0, "radius_m": 1.0, "limit": 1},
        {"lat": 0.0, "lng": float("nan"), "radius_m": 1.0, "limit": 1},
        {"lat": 0.0, "lng": 0.0, "radius_m": -1.0, "limit": 1},
        {"lat": 0.0, "lng": 0.0, "radius_m": float("inf"), "limit": 1},
        {"lat": 0.0, "lng": 0.0, "radius_m": 1.0, "limit": 0},
    ],
)
def test_bad_queries_are_refused(kwargs: dict[str, float]) -> None:
    """A query value outside its domain raises ValueError."""
    with pytest.raises(ValueError):
        NearbyQuery(**kwargs)  # type: ignore[arg-type]


def test_many_threads_query_one_index_safely() -> None:
    """Web workers query one index from many threads while it builds its coarser levels."""
    stores = make_stores((24.18, 120.60), 0.5, 2000, seed=5)
    queries = [
        NearbyQuery(24.18 + 0.01 * (i % 9), 120.60 - 0.01 * (i % 7), radius, 10)
        for i, radius in enumerate([3_000.0, 20_000.0, 50_000.0, 50_000.0] * 4)
    ]
    expected = [brute_force(stores, q) for q in queries]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        for _ in range(15):  # a fresh index each round: every thread races to build levels
            shared = StoreIndex(stores, resolution=11)
            start = threading.Barrier(len(queries))
            failures: list[BaseException] = []
            answers: dict[int, list[tuple[str, float]]] = {}

            def ask(
                i: int,
                index: StoreIndex = shared,
                gate: threading.Barrier = start,
                answers: dict[int, list[tuple[str, float]]] = answers,
                failures: list[BaseException] = failures,
            ) -> None:
                gate.wait()
                try:
                    answers[i] = answer(index, queries[i])
                except BaseException as exc:  # reported below
                    failures.append(exc)

            threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(queries))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert failures == []
            assert [answers[i] for i in range(len(queries))] == expected
    finally:
        sys.setswitchinterval(interval)
