"""The batch matcher: never worse than greedy, equal to it without contention, within limits."""

from __future__ import annotations

import itertools
import random

import pytest
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


# -- re-balancing: each order has a current store --------------------------------------------


def objective(assignment: dict[str, str], orders: list[BatchOrder]) -> tuple[int, int, int]:
    """What re-balancing minimises, in order: orders at no option, whole ms of ride, moves."""
    unserved = rides = moves = 0
    for order in orders:
        assert order.current is not None
        store_id = assignment[order.id]
        options = dict(order.options)
        unserved += store_id not in options
        ride_s = options.get(store_id, order.current[1] if store_id == order.current[0] else 0)
        rides += round(ride_s * 1000)
        moves += store_id != order.current[0]
    return unserved, rides, moves


def fits(assignment: dict[str, str], orders: list[BatchOrder], stores: list[BatchStore]) -> bool:
    """Stock and capacity hold; a store over its capacity already may take nothing in."""
    by_id = {s.id: s for s in stores}
    for store in stores:
        mine = [o for o in orders if assignment[o.id] == store.id]
        incoming = [o for o in mine if o.current is not None and o.current[0] != store.id]
        if incoming and len(mine) > store.capacity:
            return False
        for sku in SKUS:
            if sum(o.quantities.get(sku, 0) for o in incoming) == 0:
                continue
            if sum(o.quantities.get(sku, 0) for o in mine) > by_id[store.id].stock.get(sku, 0):
                return False
    return True


def best_by_brute_force(orders: list[BatchOrder], stores: list[BatchStore]) -> tuple[int, int, int]:
    choices = [
        sorted({s for s, _ in o.options} | {o.current[0]}) for o in orders if o.current is not None
    ]
    return min(
        objective(assignment, orders)
        for picks in itertools.product(*choices)
        if fits(assignment := dict(zip([o.id for o in orders], picks, strict=True)), orders, stores)
    )


@st.composite
def held_orders(draw: st.DrawFn) -> tuple[list[BatchOrder], list[BatchStore]]:
    """A few orders already placed somewhere (sometimes at a store that no longer qualifies),
    with stock and slots such that the current assignment fits; rides from a few values, so
    that ties are common."""
    m = draw(st.integers(1, 3))
    store_ids = [f"s{j}" for j in range(m)]
    orders = []
    for i in range(draw(st.integers(1, 5))):
        quantities = {draw(st.sampled_from(SKUS)): draw(st.integers(1, 2))}
        rides = {s: float(draw(st.sampled_from((60, 120, 180)))) for s in store_ids}
        option_ids = draw(st.lists(st.sampled_from(store_ids), unique=True))
        current = draw(st.sampled_from(store_ids))
        options = tuple((s, rides[s]) for s in option_ids)
        orders.append(BatchOrder(f"o{i}", quantities, options, (current, rides[current])))
    stores = []
    for store_id in store_ids:
        held = [o for o in orders if o.current is not None and o.current[0] == store_id]
        stock = {
            sku: sum(o.quantities.get(sku, 0) for o in held) + draw(st.integers(0, 2))
            for sku in SKUS
        }
        capacity = max(0, len(held) + draw(st.integers(-1, 2)))  # -1: it shrank meanwhile
        stores.append(BatchStore(store_id, capacity, stock))
    return orders, stores


@settings(max_examples=150, deadline=None)
@given(held_orders())
def test_rebalancing_moves_only_for_a_strict_improvement(
    case: tuple[list[BatchOrder], list[BatchStore]],
) -> None:
    """Optimal in (orders at no option, ride, moves): never worse than staying, no idle move."""
    orders, stores = case
    plan = batch_match(orders, stores, time_limit_s=5)
    assert set(plan.assignment) == {o.id for o in orders}  # none dropped
    assert fits(dict(plan.assignment), orders, stores)
    stay = {o.id: o.current[0] for o in orders if o.current is not None}
    after, before = objective(dict(plan.assignment), orders), objective(stay, orders)
    assert after == best_by_brute_force(orders, stores)
    assert after[:2] <= before[:2]
    if plan.assignment != stay:  # something moved: then served or ride strictly improved
        assert after[:2] < before[:2]
    for order in orders:  # a move always goes to a store that qualifies
        if plan.assignment[order.id] != stay[order.id]:
            assert plan.assignment[order.id] in dict(order.options)


def test_a_tie_keeps_the_order_where_it_is() -> None:
    """Two stores equally far: the order stays at the one it is at (the old matcher moved it
    to the other, whose id sorts first)."""
    stores = [BatchStore("a", 5, {"milk": 9}), BatchStore("b", 5, {"milk": 9})]
    order = BatchOrder("A", {"milk": 1}, (("a", 120.0), ("b", 120.0)), current=("b", 120.0))
    plan = batch_match([order], stores)
    assert plan.assignment == {"A": "b"} and plan.total_ride_s == 120.0


def test_identical_orders_are_not_swapped() -> None:
    """Equal orders at a near and a far store, room at both: no swap, whatever the search."""
    stores = [BatchStore("near", 3, {"milk": 3}), BatchStore("far", 9, {"milk": 9})]
    options = (("near", 60.0), ("far", 300.0))
    orders = [BatchOrder(f"o{i}", {"milk": 1}, options, current=options[i >= 3]) for i in range(6)]
    for seed in range(5):
        plan = batch_match(orders, stores, seed=seed, workers=4)
        assert plan.assignment == {o.id: o.current[0] for o in orders if o.current}


def test_an_order_leaves_a_store_that_can_no_longer_keep_it() -> None:
    """Its store closed (no longer an option): it moves to one that can, even farther; with
    none that can, it stays (never dropped)."""
    stores = [BatchStore("closed", 5, {"milk": 9}), BatchStore("open", 5, {"milk": 9})]
    stranded = BatchOrder("A", {"milk": 1}, (("open", 400.0),), current=("closed", 60.0))
    assert batch_match([stranded], stores).assignment == {"A": "open"}
    alone = BatchOrder("B", {"milk": 1}, (), current=("closed", 60.0))
    plan = batch_match([alone], stores)
    assert plan.assignment == {"B": "closed"} and plan.unmatched == ("B",)


def test_a_current_store_must_be_given() -> None:
    """An order held by a store the matcher does not know of is a caller's error."""
    order = BatchOrder("A", {"milk": 1}, (), current=("gone", 60.0))
    with pytest.raises(ValueError, match=r"order\(s\) A"):
        batch_match([order], [BatchStore("s", 1, {"milk": 1})])
