"""Day-long dispatch policies for the MDRP rules: greedy baselines and our rolling horizon.

The rolling-horizon policy re-optimises every cycle from what a dispatcher knows at that minute
(orders placed, couriers' positions and when each finishes its assignment):

1. orders ready within the horizon are grouped, per restaurant, into bundles of at most
   ``ceil(orders / couriers free within 10 min)`` (the target size of Reyes et al.), an order
   joining a bundle only when its ready time is close and the detour small; each bundle's
   drop-off sequence is the best permutation (bundles are small, so exactly);
2. bundles go to couriers, waiting or about to be, by a min-cost flow (OR-Tools): the cost is the
   bundle's click-to-door, a premium on minutes past the target (and, if ``pay_weight`` is set,
   on the pay the pairing adds beyond the courier's hourly guarantee), less a credit per minute
   its orders have waited (so the oldest are not starved when couriers are short) and a small
   one for keeping the courier it was planned for last cycle (so a plan does not flip between
   equals); a bundle may stay unplanned
   at a price above any assignment, so as many bundles as possible are planned;
3. only what must start now is sent: a planned pair whose courier is waiting and, leaving now,
   would arrive s_r/2 before the food is ready or later (the last minute it can still pick up
   on time; ``commit_slack`` sends that many minutes earlier). A courier sent earlier would only
   wait at the restaurant, bound to a bundle a re-plan might give to a courier freed meanwhile,
   and unable to take an order placed meanwhile. The rest stays a plan and is re-optimised next
   cycle; an assignment sent is never changed (the rules).

Pure: numpy and OR-Tools, no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from dispatch.mdrp import (
    Assignment,
    CourierState,
    Dispatch,
    Instance,
    MdrpOrder,
    PlanStats,
    Policy,
)

SCALE = 10  # costs are minutes; the flow solver wants integers


def greedy(lead: int = 0) -> Policy:
    """Baseline: each order, by ready time, to the nearest waiting courier once
    ``ready - lead`` has come; one order per assignment."""

    def policy(now: int, dispatch: Dispatch) -> list[Assignment]:
        instance = dispatch.instance
        due = sorted(
            (o for o in dispatch.open_orders(now) if o.ready - lead <= now),
            key=lambda o: (o.ready, o.id),
        )
        if not due:
            return []
        idle = dispatch.waiting(now)
        sent = []
        for order in due:
            at = instance.restaurants[order.restaurant]
            best, best_ride = None, math.inf
            for state in idle:
                ride = instance.travel(state.point, at)
                pickup = max(order.ready, now + ride + instance.half_pickup)
                if pickup <= state.courier.off and (ride, state.courier.id) < (
                    best_ride,
                    best.courier.id if best else "",
                ):
                    best, best_ride = state, ride
            if best is None:
                continue
            idle.remove(best)
            sent.append(Assignment(best.courier.id, (order.id,)))
        return sent

    return policy


@dataclass(frozen=True, slots=True)
class RollingHorizonSettings:
    horizon: int = 30  # minutes: orders ready, and couriers free, within this are planned
    # minutes before the last one that picks up at ready to send a waiting courier (2 had it
    # arrive up to 4 min early and wait: 0.07 min more mean click-to-door on the tuning days)
    commit_slack: int = 0
    max_bundle: int = 2
    bundle_gap: int = 10  # orders bundle only when their ready times are this close
    detour: int = 10  # minutes a bundle's route may grow beyond the joining order's own ride
    candidates: int = 20  # couriers considered per bundle (the cheapest)
    # minutes credited, per order, for the courier planned last cycle: one unit of the flow's
    # cost, enough to settle ties (without it an order's planned courier flips ~4 times), too
    # little to hold a plan a re-plan finds worse (2.0 cost 0.1 min of mean click-to-door on the
    # tuning days, 0.5 0.02 min over the 240)
    keep_credit: float = 1 / SCALE
    busy_weight: float = 0.0  # weight of a courier's minutes to reach and wait at the restaurant
    late_weight: float = 2.0  # extra weight of click-to-door minutes past the target
    # minutes of cost per dollar a courier earns beyond its guarantee; 0: pay is left to the
    # guarantee (over the 240 instances 0.5 kept the cost per order $0.23 lower and the mean
    # click-to-door 0.07 min higher)
    pay_weight: float = 0.0
    age_weight: float = 2.0  # credit per minute an order has waited past ``age_after``
    age_after: int = 0  # minutes since placement
    size_from: int = 10  # target bundle size: orders planned / couriers free within this


@dataclass(frozen=True, slots=True)
class _Bundle:
    restaurant: str
    orders: tuple[MdrpOrder, ...]  # in drop-off sequence
    ready: int
    offsets: tuple[int, ...]  # each drop-off, minutes after leaving the restaurant


class RollingHorizon:
    """The policy; one instance per simulated day (it remembers its last plan)."""

    def __init__(self, instance: Instance, settings: RollingHorizonSettings | None = None) -> None:
        self.instance = instance
        self.settings = settings or RollingHorizonSettings()
        self._planned: dict[str, tuple[str, int]] = {}  # order -> (courier, drop-off) last plan
        self.reassignments = 0
        self.eta_changes: list[int] = []

    def stats(self) -> PlanStats:
        return PlanStats(self.reassignments, tuple(self.eta_changes))

    def __call__(self, now: int, dispatch: Dispatch) -> list[Assignment]:
        s, inst = self.settings, self.instance
        orders = [o for o in dispatch.open_orders(now) if o.ready <= now + s.horizon]
        couriers = [
            c for c in dispatch.couriers.values()
            if c.courier.on <= now + s.horizon and c.free_at <= now + s.horizon
            and max(now, c.free_at, c.courier.on) <= c.courier.off
        ]  # fmt: skip
        if not orders or not couriers:
            return []
        soon = now + s.size_from
        pool = [c for c in couriers if c.free_at <= soon and c.courier.on <= soon]
        size = max(1, min(s.max_bundle, math.ceil(len(orders) / max(1, len(pool)))))
        bundles = self._bundles(orders, size)
        avail = np.array([max(now, c.free_at, c.courier.on) for c in couriers], dtype=np.int64)
        off = np.array([c.courier.off for c in couriers], dtype=np.int64)
        where = np.array([c.point for c in couriers], dtype=float)
        spots = np.array([inst.restaurants[b.restaurant] for b in bundles], dtype=float)
        dist = np.hypot(
            spots[:, None, 0] - where[None, :, 0], spots[:, None, 1] - where[None, :, 1]
        )
        # the same rounding as Instance.travel (ceil of metres / metres-per-minute)
        ride = np.ceil(dist / inst.metres_per_minute).astype(np.int64)
        arrive = avail[None, :] + ride
        ready = np.array([b.ready for b in bundles], dtype=np.int64)
        pickup = np.maximum(ready[:, None], arrive + inst.half_pickup)
        leave = pickup + inst.half_pickup
        width = max(len(b.orders) for b in bundles)
        # per bundle and position: drop-off offset and placement (padding contributes nothing)
        offsets = np.zeros((len(bundles), width))
        placed = np.zeros((len(bundles), width))
        used = np.zeros((len(bundles), width), dtype=bool)
        for i, b in enumerate(bundles):
            for k, (order, offset) in enumerate(zip(b.orders, b.offsets, strict=True)):
                offsets[i, k], placed[i, k], used[i, k] = offset, order.placed, True
        c2d = leave[:, :, None] + (offsets - placed)[:, None, :]
        late = np.maximum(0, c2d - inst.target)
        age = np.where(used, np.maximum(0, now - placed - s.age_after), 0).sum(axis=1)
        cost = ((c2d + s.late_weight * late) * used[:, None, :]).sum(axis=2)
        cost = cost - s.age_weight * age[:, None]
        cost = cost + s.busy_weight * (pickup - avail[None, :])
        if s.pay_weight:
            cost = cost + s.pay_weight * self._extra_pay(couriers, bundles)
        index = {c.courier.id: j for j, c in enumerate(couriers)}
        for i, b in enumerate(bundles):
            for order in b.orders:
                previous = self._planned.get(order.id)
                if previous is not None and previous[0] in index:
                    cost[i, index[previous[0]]] -= s.keep_credit
        cost = np.where(pickup <= off[None, :], cost, np.inf)
        matched = _match(cost, s.candidates)
        sent = []
        for i, j in matched:
            bundle, state = bundles[i], couriers[j]
            for order, offset in zip(bundle.orders, bundle.offsets, strict=True):
                eta = int(leave[i, j]) + offset
                previous = self._planned.get(order.id)
                if previous is not None:
                    self.reassignments += previous[0] != state.courier.id
                    self.eta_changes.append(abs(eta - previous[1]))
                self._planned[order.id] = (state.courier.id, eta)
            waiting = state.free_at <= now and state.courier.on <= now
            if waiting and int(arrive[i, j]) + inst.half_pickup >= bundle.ready - s.commit_slack:
                sent.append(Assignment(state.courier.id, tuple(o.id for o in bundle.orders)))
                for order in bundle.orders:
                    del self._planned[order.id]
        return sent

    def _extra_pay(
        self, couriers: Sequence[CourierState], bundles: Sequence[_Bundle]
    ) -> np.ndarray:
        """Dollars each pairing adds to the day's pay: nothing while a courier's deliveries earn
        less than its hourly guarantee, the per-order pay beyond it."""
        inst = self.instance
        done = np.array([sum(len(t.orders) for t in c.trips) for c in couriers], dtype=float)
        floor = np.array(
            [inst.pay_per_hour * (c.courier.off - c.courier.on) / 60 for c in couriers]
        )
        size = np.array([len(b.orders) for b in bundles], dtype=float)
        before = np.maximum(inst.pay_per_order * done, floor)
        after = np.maximum(inst.pay_per_order * (done[None, :] + size[:, None]), floor[None, :])
        extra: np.ndarray = after - before[None, :]
        return extra

    def _bundles(self, orders: Sequence[MdrpOrder], size: int) -> list[_Bundle]:
        by_restaurant: dict[str, list[MdrpOrder]] = defaultdict(list)
        for order in orders:
            by_restaurant[order.restaurant].append(order)
        bundles = []
        for restaurant, group in by_restaurant.items():
            group.sort(key=lambda o: (o.ready, o.id))
            open_bundles: list[_Bundle] = []
            for order in group:
                single = self._sequenced(restaurant, (order,))
                best, best_gain = None, math.inf
                if size > 1:
                    for k, b in enumerate(open_bundles):
                        if (
                            len(b.orders) >= size
                            or order.ready - b.orders[0].ready > self.settings.bundle_gap
                        ):
                            continue
                        joined = self._sequenced(restaurant, (*b.orders, order))
                        extra = sum(joined.offsets) - sum(b.offsets) - single.offsets[0]
                        if extra <= self.settings.detour and extra < best_gain:
                            best, best_gain = k, extra
                if best is None:
                    open_bundles.append(single)
                else:
                    open_bundles[best] = self._sequenced(
                        restaurant, (*open_bundles[best].orders, order)
                    )
            bundles.extend(open_bundles)
        return bundles

    def _sequenced(self, restaurant: str, orders: tuple[MdrpOrder, ...]) -> _Bundle:
        """The drop-off sequence with the least total of drop-off offsets."""
        inst = self.instance
        start = inst.restaurants[restaurant]
        best: tuple[int, tuple[MdrpOrder, ...], tuple[int, ...]] | None = None
        for sequence in itertools.permutations(orders):
            here, clock, times = start, 0, []
            for order in sequence:
                clock += inst.travel(here, order.point) + inst.half_dropoff
                times.append(clock)
                clock += inst.half_dropoff
                here = order.point
            if best is None or sum(times) < best[0]:
                best = (sum(times), sequence, tuple(times))
        assert best is not None
        return _Bundle(restaurant, best[1], max(o.ready for o in orders), best[2])


def _match(cost: np.ndarray, candidates: int) -> list[tuple[int, int]]:
    """Bundles (rows) to couriers (columns), each at most once, the most pairs at the least
    total cost; only each row's ``candidates`` cheapest finite columns are considered."""
    rows, cols = cost.shape
    keep = min(candidates, cols)
    nearest = np.argpartition(cost, keep - 1, axis=1)[:, :keep] if keep < cols else None
    tails, heads, costs = [], [], []
    for i in range(rows):
        choices = nearest[i] if nearest is not None else range(cols)
        for j in choices:
            if np.isfinite(cost[i, j]):
                tails.append(1 + i)
                heads.append(1 + rows + int(j))
                costs.append(round(float(cost[i, j]) * SCALE))
    if not tails:
        return []
    source, sink = 0, 1 + rows + cols
    unplanned = 2 * max(abs(c) for c in costs) + 1  # dearer than any assignment: plan the most
    flow = min_cost_flow.SimpleMinCostFlow()
    all_tails = [source] * rows + tails + list(range(1 + rows, 1 + rows + cols))
    all_tails += list(range(1, 1 + rows))
    all_heads = list(range(1, 1 + rows)) + heads + [sink] * cols + [sink] * rows
    all_costs = [0] * rows + costs + [0] * cols + [unplanned] * rows
    flow.add_arcs_with_capacity_and_unit_cost(
        np.array(all_tails), np.array(all_heads), np.ones(len(all_tails), dtype=np.int64),
        np.array(all_costs, dtype=np.int64),
    )  # fmt: skip
    flow.set_node_supply(source, rows)
    flow.set_node_supply(sink, -rows)
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError("min-cost flow failed")
    start = rows
    pairs = []
    for arc in range(start, start + len(tails)):
        if flow.flow(arc):
            pairs.append((tails[arc - start] - 1, heads[arc - start] - 1 - rows))
    return pairs
