"""Assigning many orders to stores at once with OR-Tools CP-SAT, against a greedy baseline.

At peak, orders compete for the same stores' capacity and stock: sending each to its nearest
feasible store in turn (greedy) can strand later orders that had no other option. The batch
matcher decides all at once: as many orders matched as possible first, then the least total
ride time, subject to each store's remaining capacity and per-sku stock. When nothing is
contended it gives exactly the greedy answer (nearest store, ties by store id).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model


@dataclass(frozen=True, slots=True)
class BatchOrder:
    """An order to place and the stores that could take it, as (store id, ride seconds)."""

    id: str
    quantities: Mapping[str, int]
    options: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class BatchStore:
    id: str
    capacity: int  # orders it can still take in this window
    stock: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    assignment: Mapping[str, str]  # order id -> store id
    unmatched: tuple[str, ...]
    total_ride_s: float
    status: str  # greedy | hint (the starting point kept) | OPTIMAL | FEASIBLE
    solve_s: float


def _ranked(order: BatchOrder) -> list[tuple[str, float]]:
    return sorted(order.options, key=lambda option: (option[1], option[0]))


def _plan_from(assignment: Mapping[str, str], orders: Sequence[BatchOrder]) -> BatchPlan:
    """The plan an existing assignment amounts to (pairs that are not options are dropped)."""
    rides = {(o.id, s): r for o in orders for s, r in o.options}
    kept = {o: s for o, s in assignment.items() if (o, s) in rides}
    total = sum(rides[pair] for pair in kept.items())
    unmatched = tuple(o.id for o in orders if o.id not in kept)
    return BatchPlan(kept, unmatched, total, "hint", 0.0)


def greedy_nearest(orders: Sequence[BatchOrder], stores: Sequence[BatchStore]) -> BatchPlan:
    """Each order in turn to its nearest store that still has capacity and every item."""
    started = time.perf_counter()
    capacity = {s.id: s.capacity for s in stores}
    stock = {s.id: dict(s.stock) for s in stores}
    assignment: dict[str, str] = {}
    total = 0.0
    for order in orders:
        for store_id, ride_s in _ranked(order):
            shelf = stock.get(store_id)
            if shelf is None or capacity[store_id] <= 0:
                continue
            if all(shelf.get(sku, 0) >= qty for sku, qty in order.quantities.items()):
                capacity[store_id] -= 1
                for sku, qty in order.quantities.items():
                    shelf[sku] -= qty
                assignment[order.id] = store_id
                total += ride_s
                break
    unmatched = tuple(o.id for o in orders if o.id not in assignment)
    return BatchPlan(assignment, unmatched, total, "greedy", time.perf_counter() - started)


def batch_match(
    orders: Sequence[BatchOrder],
    stores: Sequence[BatchStore],
    *,
    time_limit_s: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    hint: Mapping[str, str] | None = None,
) -> BatchPlan:
    """Maximise orders matched, then minimise total ride time, in one CP-SAT model.

    The greedy plan (or ``hint``, e.g. the assignment in force) is given as a starting point
    and returned if the search ends without beating it, so the answer is never worse than
    greedy; with the time limit reached the best plan found so far is returned (FEASIBLE).
    """
    started = time.perf_counter()
    by_id = {s.id: s for s in stores}
    model = cp_model.CpModel()
    choices: dict[tuple[int, str], cp_model.IntVar] = {}
    cost: dict[tuple[int, str], int] = {}
    for i, order in enumerate(orders):
        options = []
        ranked = [(s, r) for s, r in _ranked(order) if s in by_id]
        for rank, (store_id, ride_s) in enumerate(ranked):
            if any(by_id[store_id].stock.get(sku, 0) < q for sku, q in order.quantities.items()):
                continue  # could never take it, whatever the others do
            var = model.new_bool_var(f"o{i}_{store_id}")
            choices[i, store_id] = var
            options.append(var)
            # whole milliseconds, then the option's rank to break ties like greedy does
            cost[i, store_id] = round(ride_s * 1000) * 64 + min(rank, 63)
        if options:
            model.add_at_most_one(options)
    per_store: dict[str, list[tuple[int, cp_model.IntVar]]] = {}
    for (i, store_id), var in choices.items():
        per_store.setdefault(store_id, []).append((i, var))
    for store_id, entries in per_store.items():
        store = by_id[store_id]
        model.add(sum(var for _, var in entries) <= store.capacity)
        skus = {sku for i, _ in entries for sku in orders[i].quantities}
        for sku in skus:
            demand = [
                (orders[i].quantities[sku], var)
                for i, var in entries
                if sku in orders[i].quantities
            ]
            if sum(q for q, _ in demand) > store.stock.get(sku, 0):
                model.add(sum(q * var for q, var in demand) <= store.stock.get(sku, 0))
    # One more match is worth more than any saving in ride time.
    reward = max(cost.values(), default=0) * len(orders) + 1
    model.maximize(sum((reward - cost[key]) * var for key, var in choices.items()))
    baseline = greedy_nearest(orders, stores) if hint is None else _plan_from(hint, orders)
    for (i, store_id), var in choices.items():
        model.add_hint(var, baseline.assignment.get(orders[i].id) == store_id)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return replace(baseline, solve_s=time.perf_counter() - started)
    assignment = {orders[i].id: s for (i, s), var in choices.items() if solver.boolean_value(var)}
    rides = {(o.id, s): r for o in orders for s, r in o.options}
    total = sum(rides[order_id, store_id] for order_id, store_id in assignment.items())
    elapsed = time.perf_counter() - started
    if (len(assignment), -total) < (len(baseline.assignment), -baseline.total_ride_s):
        # cut short before it caught up with its starting point: that is the better plan
        return replace(baseline, solve_s=elapsed)
    unmatched = tuple(o.id for o in orders if o.id not in assignment)
    name = "OPTIMAL" if status == cp_model.OPTIMAL else "FEASIBLE"
    return BatchPlan(assignment, unmatched, total, name, elapsed)
