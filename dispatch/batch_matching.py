"""Assigning many orders to stores at once with OR-Tools CP-SAT, against a greedy baseline.

At peak, orders compete for the same stores' capacity and stock: sending each to its nearest
feasible store in turn (greedy) can strand later orders that had no other option. The batch
matcher decides all at once: as many orders matched as possible first, then the least total
ride time, subject to each store's remaining capacity and per-sku stock. When nothing is
contended it gives exactly the greedy answer (nearest store, ties by store id).

Re-balancing accepted orders uses the same model with each order's ``current`` store: staying is
always allowed (its reservation is counted as free for it), and the objective is, in this order:
orders at a store that can fulfil them (an option), whole milliseconds of total ride from store
to customer, then fewest moves. So the assignment in force is the default, and an order moves
only when the first two strictly improve: never to break a tie, never a swap of equal orders.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model


@dataclass(frozen=True, slots=True)
class BatchOrder:
    """An order to place and the stores that could take it, as (store id, ride seconds).

    ``current`` (re-balancing): the store holding it now and its ride; it may always stay there,
    even where that store no longer qualifies (then it is not an option, and staying is unmatched).
    """

    id: str
    quantities: Mapping[str, int]
    options: tuple[tuple[str, float], ...]
    current: tuple[str, float] | None = None


@dataclass(frozen=True, slots=True)
class BatchStore:
    id: str
    capacity: int  # orders it can still take in this window
    stock: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Where each order goes; ``unmatched``: those at no option (left out, or kept at a current
    store that no longer qualifies). ``total_ride_s`` counts every order assigned."""

    assignment: Mapping[str, str]  # order id -> store id
    unmatched: tuple[str, ...]
    total_ride_s: float
    status: str  # greedy | kept (the assignment in force) | OPTIMAL | FEASIBLE
    solve_s: float


def _ranked(order: BatchOrder) -> list[tuple[str, float]]:
    return sorted(order.options, key=lambda option: (option[1], option[0]))


def current_plan(orders: Sequence[BatchOrder]) -> BatchPlan:
    """The plan of the assignment in force: every order with a current store stays there."""
    assignment = {o.id: o.current[0] for o in orders if o.current is not None}
    return _plan_of(assignment, orders, "kept", 0.0)


def _plan_of(
    assignment: Mapping[str, str], orders: Sequence[BatchOrder], status: str, solve_s: float
) -> BatchPlan:
    served = {(o.id, s) for o in orders for s, _ in o.options}
    rides = {(o.id, s): r for o in orders for s, r in o.options}
    rides |= {(o.id, o.current[0]): o.current[1] for o in orders if o.current is not None}
    total = sum(rides[pair] for pair in assignment.items())
    unmatched = tuple(o.id for o in orders if (o.id, assignment.get(o.id)) not in served)
    return BatchPlan(dict(assignment), unmatched, total, status, solve_s)


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
) -> BatchPlan:
    """Maximise orders matched, then minimise total ride time, in one CP-SAT model.

    The starting point is the greedy plan, or, when orders have a ``current`` store, the
    assignment in force (then fewest moves break ties, see the module). The starting point is
    returned unless the search finds a strictly better plan, so the answer is never worse than
    it; with the time limit reached the best plan found so far is returned (FEASIBLE).
    """
    started = time.perf_counter()
    by_id = {s.id: s for s in stores}
    strays = [o.id for o in orders if o.current is not None and o.current[0] not in by_id]
    if strays:
        msg = f"the current store of order(s) {', '.join(strays)} is not among the stores"
        raise ValueError(msg)
    rebalancing = any(o.current is not None for o in orders)
    # Whole milliseconds of ride first; below them a tie-break worth less than one millisecond
    # in total when re-balancing (one per move), else the option's rank as greedy takes them.
    scale = len(orders) + 1 if rebalancing else 64
    model = cp_model.CpModel()
    choices: dict[tuple[int, str], cp_model.IntVar] = {}
    cost: dict[tuple[int, str], int] = {}
    served: set[tuple[int, str]] = set()  # the choices that are options (the store qualifies)
    for i, order in enumerate(orders):
        stay = _current_store(order)
        mine = []
        ranked = [(s, r) for s, r in _ranked(order) if s in by_id]
        for rank, (store_id, ride_s) in enumerate(ranked):
            if store_id != stay and any(
                by_id[store_id].stock.get(sku, 0) < q for sku, q in order.quantities.items()
            ):
                continue  # could never take it, whatever the others do
            choices[i, store_id] = model.new_bool_var(f"o{i}_{store_id}")
            mine.append(choices[i, store_id])
            served.add((i, store_id))
            tie = int(store_id != stay) if rebalancing else min(rank, 63)
            cost[i, store_id] = round(ride_s * 1000) * scale + tie
        if order.current is not None and (i, order.current[0]) not in choices:
            # its store no longer qualifies, but it holds the order: staying is allowed
            stay, ride_s = order.current
            choices[i, stay] = model.new_bool_var(f"o{i}_{stay}_kept")
            mine.append(choices[i, stay])
            cost[i, stay] = round(ride_s * 1000) * scale
        if stay is not None:
            model.add_exactly_one(mine)  # never dropped: it stays unless it moves
        elif mine:
            model.add_at_most_one(mine)
    per_store: dict[str, list[tuple[int, cp_model.IntVar]]] = {}
    for (i, store_id), var in choices.items():
        per_store.setdefault(store_id, []).append((i, var))
    for store_id, entries in per_store.items():
        store = by_id[store_id]
        held = sum(1 for i, _ in entries if _current_store(orders[i]) == store_id)
        incoming = [var for i, var in entries if _current_store(orders[i]) != store_id]
        if held <= store.capacity:
            model.add(sum(var for _, var in entries) <= store.capacity)
        elif incoming:
            # over its capacity already (it shrank): it keeps what it holds, and takes an order
            # in only if enough others leave
            taking = model.new_bool_var(f"in_{store_id}")
            model.add_max_equality(taking, incoming)
            model.add(sum(var for _, var in entries) <= store.capacity).only_enforce_if(taking)
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
    value = {key: reward * (key in served) - cost[key] for key in choices}
    model.maximize(sum(value[key] * var for key, var in choices.items()))
    baseline = current_plan(orders) if rebalancing else greedy_nearest(orders, stores)
    for (i, store_id), var in choices.items():
        model.add_hint(var, baseline.assignment.get(orders[i].id) == store_id)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    elapsed = time.perf_counter() - started
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return replace(baseline, solve_s=elapsed)
    name = "OPTIMAL" if status == cp_model.OPTIMAL else "FEASIBLE"
    found = {(i, s) for (i, s), var in choices.items() if solver.boolean_value(var)}
    index = {o.id: i for i, o in enumerate(orders)}
    before = sum(value[index[o], s] for o, s in baseline.assignment.items())
    if sum(value[key] for key in found) <= before:
        # nothing strictly better than the starting point: keep it (proved best if OPTIMAL)
        return replace(baseline, status=name if name == "OPTIMAL" else baseline.status,
                       solve_s=elapsed)  # fmt: skip
    assignment = {orders[i].id: s for i, s in sorted(found)}
    return _plan_of(assignment, orders, name, elapsed)


def _current_store(order: BatchOrder) -> str | None:
    return order.current[0] if order.current is not None else None
