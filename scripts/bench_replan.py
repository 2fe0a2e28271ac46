#!/usr/bin/env python3
"""The service worker's re-plans, from the plan in force against from scratch (issue 14 item 6).

    python scripts/bench_replan.py                         # 250/50 500/100 1000/200 2000/400
    python scripts/bench_replan.py --sizes 250/50 --ticks 2

A region starts as a snapshot of ``scripts/bench_snapshots.py`` (open orders at the Taichung
demo stores, couriers around their centre, the same travel model), planned once from scratch.
Then, as the worker does, it is re-planned every ``--tick`` seconds with the worker's defaults
(``dispatch/settings.py``: time limit, margin): time advances, the world follows the plan in force
(a stop whose service has started is done: a pick-up puts the order on board, a drop-off closes
it; a courier stands at its last stop, or at the stop it is heading to from when it gets
there), and new orders arrive at the snapshot's rate (its orders span 15 min). Two chains run
from the same first plan and the same arrivals: one passes the plan in force as ``previous``
(the worker), the other plans from scratch (its peer). Per chain: wall time of a re-plan
(matrix and all), promises kept (orders planned to arrive by their promise, share of the open
ones), how far each order's planned drop-off (arrival at the door) moves between
consecutive plans, how often an order changes courier (reassignments, per order carried over)
and how often a courier's next stop is not the one the plan in force had it heading to.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_snapshots import NOW, BenchTravel, make_snapshot
from benchmark_common import machine, percentile

from dispatch.planner import CourierState, DispatchPlan, OpenOrder, plan_dispatch
from dispatch.settings import Settings

SNAPSHOT_SPAN_S = 900  # a snapshot's orders were placed over its last 15 min


@dataclass(frozen=True, slots=True)
class Chain:
    """One policy's run: the plan in force and what it measured."""

    orders: dict[str, OpenOrder]
    couriers: dict[str, CourierState]
    plan: DispatchPlan
    walls: tuple[float, ...] = ()
    kept: tuple[float, ...] = ()  # share of open orders planned on time, per re-plan
    moves_min: tuple[float, ...] = ()
    carried: int = 0  # orders in two consecutive plans
    reassigned: int = 0  # of those, planned onto another courier
    next_stops: int = 0  # couriers with a next stop in two consecutive plans
    next_changed: int = 0  # of those, heading somewhere else


def couriers_of(plan: DispatchPlan) -> dict[str, str]:
    return {s.order_id: r.courier_id for r in plan.routes for s in r.stops}


def next_stops(plan: DispatchPlan, now: datetime) -> dict[str, tuple[str, str]]:
    """Courier id -> the first stop of its plan not started by ``now``."""
    ahead = {}
    for route in plan.routes:
        stop = next((s for s in route.stops if s.start_at > now), None)
        if stop is not None:
            ahead[route.courier_id] = (stop.order_id, stop.kind)
    return ahead


def drop_offs(plan: DispatchPlan) -> dict[str, datetime]:
    return {s.order_id: s.arrive_at for r in plan.routes for s in r.stops if s.kind == "delivery"}


def follow(chain: Chain, now: datetime) -> tuple[dict[str, OpenOrder], dict[str, CourierState]]:
    """The world at ``now`` had everyone followed the plan in force."""
    orders = dict(chain.orders)
    couriers = dict(chain.couriers)
    for route in chain.plan.routes:
        courier = couriers[route.courier_id]
        if courier.available_at is not None and courier.available_at <= now:
            courier = replace(courier, available_at=None)  # got where it was heading
        for stop in route.stops:
            if stop.start_at > now:  # not started: the courier is on its way, or idle before it
                if stop.arrive_at > now and courier.available_at is None:
                    courier = replace(courier, position=stop.position, available_at=stop.arrive_at)
                break
            if stop.kind == "pickup":
                orders[stop.order_id] = replace(orders[stop.order_id], picked_up_by=courier.id)
            else:
                orders.pop(stop.order_id, None)
            later = stop.depart_at if stop.depart_at > now else None
            courier = replace(courier, position=stop.position, available_at=later)
        couriers[route.courier_id] = courier
    return orders, couriers


def arrivals(count: int, seed: int, tick: int, now: datetime) -> list[OpenOrder]:
    """``count`` orders placed in the last tick, drawn as the snapshot draws its orders."""
    rng = random.Random(seed * 7919 + tick)
    fresh = []
    for order in make_snapshot(count, 0, seed * 1000 + tick).orders:
        placed = order.promised_by - timedelta(minutes=60)
        shift = now - timedelta(seconds=rng.uniform(0, 30)) - placed
        fresh.append(replace(order, id=f"t{tick}-{order.id}", ready_at=order.ready_at + shift,
                             promised_by=order.promised_by + shift))  # fmt: skip
    return fresh


def replan(chain: Chain, now: datetime, new: list[OpenOrder], *, warm: bool,
           settings: Settings) -> Chain:  # fmt: skip
    orders, couriers = follow(chain, now)
    orders |= {o.id: o for o in new}
    previous = None
    if warm:
        routes = chain.plan.routes
        previous = {r.courier_id: [(s.order_id, s.kind) for s in r.stops] for r in routes}
    started = time.perf_counter()
    plan = plan_dispatch(
        list(orders.values()), list(couriers.values()), now=now, travel=BenchTravel(),
        time_limit_s=settings.plan_time_limit_s, margin_s=settings.plan_margin_s,
        previous=previous,
    )  # fmt: skip
    wall = time.perf_counter() - started
    before, after = drop_offs(chain.plan), drop_offs(plan)
    moves = [abs((after[k] - before[k]).total_seconds()) / 60 for k in after.keys() & before]
    was_with, now_with = couriers_of(chain.plan), couriers_of(plan)
    common = was_with.keys() & now_with.keys()
    heading, headed = next_stops(chain.plan, now), next_stops(plan, now)
    both = heading.keys() & headed.keys()
    return Chain(
        orders,
        couriers,
        plan,
        (*chain.walls, wall),
        (*chain.kept, plan.on_time / len(orders) if orders else 1.0),
        (*chain.moves_min, *moves),
        chain.carried + len(common),
        chain.reassigned + sum(1 for k in common if was_with[k] != now_with[k]),
        chain.next_stops + len(both),
        chain.next_changed + sum(1 for k in both if heading[k] != headed[k]),
    )


def run(n_orders: int, n_couriers: int, *, ticks: int, tick_s: int, seed: int,
        settings: Settings) -> dict[str, Chain]:  # fmt: skip
    snapshot = make_snapshot(n_orders, n_couriers, seed)
    first = plan_dispatch(snapshot.orders, snapshot.couriers, now=NOW, travel=BenchTravel(),
                          time_limit_s=settings.plan_time_limit_s,
                          margin_s=settings.plan_margin_s)  # fmt: skip
    start = Chain({o.id: o for o in snapshot.orders}, {c.id: c for c in snapshot.couriers}, first)
    chains = {"plan in force": start, "from scratch": start}
    per_tick = max(1, round(n_orders * tick_s / SNAPSHOT_SPAN_S))
    for tick in range(1, ticks + 1):
        now = NOW + timedelta(seconds=tick * tick_s)
        new = arrivals(per_tick, seed, tick, now)
        for name, chain in chains.items():
            chains[name] = replan(chain, now, new, warm=name == "plan in force", settings=settings)
        line = ", ".join(
            f"{name} {c.walls[-1]:.1f} s, {len(c.orders)} open" for name, c in chains.items()
        )
        print(f"  {n_orders}/{n_couriers} tick {tick}/{ticks} (+{per_tick} orders): {line}",
              file=sys.stderr, flush=True)  # fmt: skip
    return chains


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["250/50", "500/100", "1000/200", "2000/400"])
    parser.add_argument("--ticks", type=int, default=5, help="re-plans per size")
    parser.add_argument("--tick", type=int, default=30, help="seconds between re-plans")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = Settings()
    print(f"machine: {machine()}")
    print(f"{args.ticks} re-plans {args.tick} s apart; "
          f"time limit {settings.plan_time_limit_s:g} s, margin "
          f"{settings.plan_margin_s} s (the worker's defaults)")  # fmt: skip
    print("| orders / couriers | re-plan | median s | max s | promises kept % | "
          "drop-off move p50 min | p90 min | reassigned % | next stop changed % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        n_orders, n_couriers = (int(v) for v in size.split("/"))
        chains = run(n_orders, n_couriers, ticks=args.ticks, tick_s=args.tick, seed=args.seed,
                     settings=settings)  # fmt: skip
        for name, c in chains.items():
            moves = list(c.moves_min) or [0.0]
            print(
                f"| {size} | {name} | {statistics.median(c.walls):.1f} | {max(c.walls):.1f} | "
                f"{100 * statistics.median(c.kept):.1f} | {percentile(moves, 0.5):.1f} | "
                f"{percentile(moves, 0.9):.1f} | {100 * c.reassigned / max(1, c.carried):.1f} | "
                f"{100 * c.next_changed / max(1, c.next_stops):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
