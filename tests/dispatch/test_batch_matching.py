"""The batch matcher: never worse than greedy, equal to it without contention, within limits."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.batch_matching import BatchOrder, BatchPlan, BatchStore, batch_match, greedy_nearest

SKUS = ("milk", "tea", "eggs")


def scenario(
    seed: int, orders: int, stores: int, scarce: bool
) -> tuple[list[BatchOrder], list[BatchStore]]:
    rng = random.Random(seed)
    shops = [
        BatchStore(
            f"s{j:02d}",
            rng.randint(1, 4) if scarce else 10_000,
            {sku: (rng.randint(0, 5) if scarce else 10_000) for sku in SKUS},
        )
        for j in range(stores)
    ]
    demand = [
        BatchOrder(
            f"o{i:03d}",
            {sku: rng.randint(1, 3) for sku in rng.sample(SKUS, rng.randint(1, 2))},
            tuple((s.id, float(rng.randint(60, 1800))) for s in rng.sample(shops, min(3, stores))),
        )
        for i in range(orders)
    ]
    return demand, shops


def check_limits(plan: BatchPlan, orders: list[BatchOrder], stores: list[BatchStore]) -> None:
    by_id = {s.id: s for s in stores}
    load: dict[str, int] = {}
    used: dict[tuple[str, str], int] = {}
    for order in orders:
        store_id = plan.assignment.get(order.id)
        if store_id is None:
            continue
        assert store_id in dict(order.options)
        load[store_id] = load.get(store_id, 0) + 1
        for sku, qty in order.quantities.items():
            used[store_id, sku] = used.get((store_id, sku), 0) + qty
    assert all(load[s] <= by_id[s].capacity for s in load)
    assert all(qty <= by_id[s].stock.get(sku, 0) for (s, sku), qty in used.items())
    assert set(plan.unmatched) == {o.id for o in orders} - set(plan.assignment)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 8))
def test_batch_respects_limits_and_beats_or_equals_greedy(seed: int, n: int, m: int) -> None:
    """Capacity and stock hold; at least as many matched as greedy, and no more ride if equal."""
    orders, stores = scenario(seed, n, m, scarce=True)
    greedy = greedy_nearest(orders, stores)
    batch = batch_match(orders, stores, time_limit_s=5)
    check_limits(greedy, orders, stores)
    check_limits(batch, orders, stores)
    assert len(batch.assignment) >= len(greedy.assignment)
    if len(batch.assignment) == len(greedy.assignment):
        assert batch.total_ride_s <= greedy.total_ride_s + 1e-6


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 8))
def test_without_contention_batch_equals_greedy(seed: int, n: int, m: int) -> None:
    """Plenty of capacity and stock: every order goes to its nearest store, as greedy does."""
    orders, stores = scenario(seed, n, m, scarce=False)
    assert batch_match(orders, stores).assignment == greedy_nearest(orders, stores).assignment


def test_contention_is_resolved_better_than_greedy() -> None:
    """Greedy gives the only store of order B to order A, which had another option."""
    stores = [BatchStore("near", 1, {"milk": 9}), BatchStore("far", 1, {"milk": 9})]
    orders = [
        BatchOrder("A", {"milk": 1}, (("near", 100.0), ("far", 200.0))),
        BatchOrder("B", {"milk": 1}, (("near", 150.0),)),
    ]
    assert len(greedy_nearest(orders, stores).assignment) == 1
    plan = batch_match(orders, stores)
    assert plan.assignment == {"A": "far", "B": "near"} and plan.status == "OPTIMAL"
