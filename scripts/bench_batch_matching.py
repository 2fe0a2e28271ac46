#!/usr/bin/env python3
"""Peak-hour batch matching: greedy nearest store vs the OR-Tools CP-SAT batch matcher.

    python scripts/bench_batch_matching.py                  # 10,000 orders over 1,000 stores
    python scripts/bench_batch_matching.py --orders 2000 --stores 200 --time-limit 10

A generated peak in one city: stores and shoppers clustered around the centre, each store with
a few order slots left this hour and a patchy stock of 30 skus, each order 1-3 lines. Each order
may go to any of its 10 nearest stores within 3 km whose ride fits the promise. Both matchers
see the same orders in arrival order; the script prints matched orders, total and mean ride
time, and solve time for each.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import machine

from dispatch.batch_matching import BatchOrder, BatchPlan, BatchStore, batch_match, greedy_nearest
from geo.index import NearbyQuery, StoreIndex
from geo.stores import Store
from geo.travel import StraightLineTravel

CENTRE = (25.0330, 121.5654)  # Taipei
KM = 1 / 111.32
SKUS = [f"sku-{i:02d}" for i in range(30)]
PROMISE_BUDGET_S = 3600 - 300 - 600  # the hour, less preparation and the courier reaching the store


def generate(
    orders: int, stores: int, slots: int, seed: int
) -> tuple[list[BatchOrder], list[BatchStore]]:
    rng = random.Random(seed)

    def point() -> tuple[float, float]:
        return CENTRE[0] + rng.gauss(0, 4) * KM, CENTRE[1] + rng.gauss(0, 4) * KM * 1.1

    shops = []
    catalogue = []
    for j in range(stores):
        lat, lng = point()
        store_id = f"st-{j:04d}"
        catalogue.append(Store(id=store_id, name=store_id, brand="X", kind="convenience",
                               partner=True, lat=lat, lng=lng))  # fmt: skip
        stock = {sku: rng.randint(0, 12) for sku in SKUS if rng.random() < 0.8}
        shops.append(BatchStore(store_id, slots, stock))
    index = StoreIndex(catalogue)
    travel = StraightLineTravel()
    demand = []
    for i in range(orders):
        lat, lng = point()
        options = []
        for hit in index.nearby(NearbyQuery(lat, lng, 3000.0, 10)):
            ride = travel.seconds((hit.store.lat, hit.store.lng), (lat, lng), vehicle="e-bike")
            if ride <= PROMISE_BUDGET_S:
                options.append((hit.store.id, ride))
        lines = {sku: rng.randint(1, 2) for sku in rng.sample(SKUS, rng.randint(1, 3))}
        demand.append(BatchOrder(f"o-{i:05d}", lines, tuple(options)))
    return demand, shops


def row(name: str, plan: BatchPlan, total: int) -> str:
    matched = len(plan.assignment)
    mean = plan.total_ride_s / matched / 60 if matched else 0.0
    return (
        f"| {name} | {matched:,} / {total:,} ({matched / total:.1%}) | "
        f"{plan.total_ride_s / 3600:,.1f} h | {mean:.2f} min | {plan.solve_s:.2f} s | "
        f"{plan.status} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--stores", type=int, default=1_000)
    parser.add_argument("--slots", type=int, default=8, help="order slots left per store")
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    orders, stores = generate(args.orders, args.stores, args.slots, args.seed)
    options = sum(len(o.options) for o in orders)
    print(f"generated {len(orders):,} orders, {len(stores):,} stores, {options:,} order-store "
          f"options in {time.perf_counter() - started:.1f} s")  # fmt: skip
    greedy = greedy_nearest(orders, stores)
    batch = batch_match(orders, stores, time_limit_s=args.time_limit, workers=2, seed=args.seed)
    print()
    print(f"{args.orders:,} orders, {args.stores:,} stores x {args.slots} slots, CP-SAT limit "
          f"{args.time_limit:g} s on 2 workers")  # fmt: skip
    print("| matcher | matched | total ride | mean ride | solve time | status |")
    print("|---|---|---|---|---|---|")
    print(row("greedy nearest", greedy, len(orders)))
    print(row("CP-SAT batch", batch, len(orders)))


if __name__ == "__main__":
    main()
