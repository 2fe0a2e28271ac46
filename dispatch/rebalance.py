"""Re-balancing: the accepted orders not yet being prepared re-matched together with the batch
matcher, and moved where that strictly improves, each region's moves all at once or none."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.batch_matching import BatchOrder, batch_match, current_plan
from dispatch.intake import Intake, StoreSnapshot
from dispatch.intake_batch import batch_stores
from dispatch.order_store import Move
from dispatch.orders import PROMISE, Order


@dataclass(frozen=True, slots=True)
class Rebalance:
    """What a re-balance did: (order id, from store, to store) per move, and ride times."""

    considered: int
    moves: tuple[tuple[str, str, str], ...]
    ride_before_s: float
    ride_after_s: float
    solver_status: str


def rebalance(intake: Intake, *, limit: int = 500) -> Rebalance:
    """Re-match the orders not yet being prepared as one batch and move those it improves.

    Each order may stay where it is (its own reservation counts as free for it), and that is
    the default: the batch matcher moves orders only when that strictly improves, first the
    orders at a store that can fulfil them, then the total ride from store to customer (see
    :mod:`dispatch.batch_matching`). A region's moves are applied together, atomically, or not
    at all (a move that pays only with another must not land alone); if its orders or stores
    changed meanwhile, the region is re-matched on fresh data. No order is ever dropped.
    """
    passes = [_rebalance_home(intake, region, limit) for region in intake.store.order_regions()]
    return Rebalance(
        considered=sum(p.considered for p in passes),
        moves=tuple(m for p in passes for m in p.moves),
        ride_before_s=sum(p.ride_before_s for p in passes),
        ride_after_s=sum(p.ride_after_s for p in passes),
        solver_status=",".join(sorted({p.solver_status for p in passes})) or "OPTIMAL",
    )


def _rebalance_home(intake: Intake, region: str, limit: int) -> Rebalance:
    """Re-balance one region's orders among its own stores (the moves stay in one Redis slot)."""
    for _ in range(3):
        attempt = _rebalance_once(intake, region, limit)
        if attempt is not None:
            return attempt
    orders = _movable(intake, region, limit)
    return Rebalance(len(orders), (), 0.0, 0.0, "changed_meanwhile")


def _movable(intake: Intake, region: str, limit: int) -> list[Order]:
    """The region's accepted orders that could move: placed in the last hour (an older one
    cannot be kept anywhere) at a store of the catalogue."""
    since = intake.now - PROMISE
    return [
        order
        for order in intake.store.accepted_orders(region, limit=limit)
        if order.created_at > since
        and intake.index.get(order.store_id) is not None
        and order.schedule is None  # booked for later: its slot stays its own
    ]


def _rebalance_once(intake: Intake, region: str, limit: int) -> Rebalance | None:
    """One re-balance of ``region``; None if its moves no longer fit what is in Redis."""
    movable = _movable(intake, region, limit)
    freed_stock: dict[str, dict[str, int]] = {}
    freed_slots: dict[str, int] = {}
    for order in movable:
        shelf = freed_stock.setdefault(order.store_id, {})
        for line in order.request.lines:
            shelf[line.sku] = shelf.get(line.sku, 0) + line.qty
        freed_slots[order.store_id] = freed_slots.get(order.store_id, 0) + 1
    snapshots = {
        order.id: intake.snapshot(
            order.request,
            deadline=order.promised_by,
            freed=(freed_stock, freed_slots),
            region=region,
            holder=order.store_id,
        )
        for order in movable
    }
    orders = [
        BatchOrder(
            order.id,
            order.request.quantities,
            tuple((c.store.id, c.ride_s) for c in snapshots[order.id].ranking.feasible),
            current=(order.store_id, _ride_at(snapshots[order.id], order.store_id)),
        )
        for order in movable
    ]
    plan = batch_match(
        orders,
        batch_stores(snapshots.values()),
        time_limit_s=intake.rules.batch_time_limit_s,
    )
    before = current_plan(orders)
    moves = [
        Move(o.id, old, new, f"re-balanced with other open orders: {new} instead of {old}")
        for o in orders
        if (old := before.assignment[o.id]) != (new := plan.assignment[o.id])
    ]
    capacity = {
        store_id: situation.store.capacity_per_hour
        for snapshot in snapshots.values()
        for store_id, situation in snapshot.situations.items()
    }
    if not intake.store.move_orders(moves, capacity_per_hour=capacity, at=intake.now):
        return None
    return Rebalance(
        considered=len(movable),
        moves=tuple((m.order_id, m.from_store, m.to_store) for m in moves),
        ride_before_s=before.total_ride_s,
        ride_after_s=plan.total_ride_s,
        solver_status=plan.status,
    )


def _ride_at(snapshot: StoreSnapshot, store_id: str) -> float:
    """The ride from ``store_id`` to the customer, as the snapshot ranked it (qualifying or not)."""
    ranking = snapshot.ranking
    rides = {c.store.id: c.ride_s for c in ranking.feasible}
    rides |= {r.store_id: r.ride_s for r in ranking.rejected}
    return rides[store_id]
