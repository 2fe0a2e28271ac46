#!/usr/bin/env python3
"""Simulate Grubhub MDRP days: our planner against the greedy baseline and the lower bound.

    python scripts/simulate.py --only '0o100t100s1p100' --max-orders 120
    python scripts/simulate.py --only '*o50*' --tick 120 --time-limit 0.3

For each instance it runs the same day under the simulated clock twice, once with each policy,
and prints the share of orders delivered within the instance's target (40 min), mean and p90
click-to-door, orders per courier-hour, courier utilisation and the longest planning time of a
tick, beside the infinite-fleet lower bound (each order picked up when ready, ridden straight).
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, machine

from dispatch.mdrp import read_mdrp
from dispatch.simulator import (
    Day,
    figures,
    greedy_policy,
    lower_bound_click_to_door,
    planner_policy,
    simulate,
)


def first_orders(day: Day, count: int | None) -> Day:
    """The day cut to its first ``count`` orders (all when None), for quicker runs."""
    if count is None or count >= len(day.orders):
        return day
    cut = sorted(o.placed_at for o in day.orders)[count - 1]
    # the fleet is cut too, so courier-hour figures describe the same stretch of the day
    until = cut + 90 * 60
    couriers = tuple(
        replace(c, off_at=min(c.off_at, until)) for c in day.couriers if c.on_at < until
    )
    orders = tuple(o for o in day.orders if o.placed_at <= cut)
    return replace(day, orders=orders, couriers=couriers)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--only", default="*", help="instance name pattern")
    parser.add_argument("--limit", type=int, default=20, help="at most this many instances")
    parser.add_argument("--max-orders", type=int, help="cut each day to its first N orders")
    parser.add_argument("--tick", type=int, default=60, help="simulated seconds between plans")
    parser.add_argument("--time-limit", type=float, default=0.5, help="planner seconds per tick")
    parser.add_argument(
        "--margin", type=int, default=900, help="plan to promises this many seconds early"
    )
    args = parser.parse_args()
    folder = args.data_dir / "grubhub_mdrp" / "public_instances"
    names = sorted(p.name for p in folder.iterdir() if fnmatch.fnmatch(p.name, args.only))
    names = names[: args.limit]
    print(f"machine: {machine()}")
    print(f"{len(names)} MDRP instances, tick {args.tick} s, planner {args.time_limit:g} s a tick")
    print("| instance | orders | policy | on time | mean / p90 click-to-door (min) "
          "| orders per courier-hour | utilisation | longest plan (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name in tqdm(names, desc="instances", disable=None):
        day = first_orders(read_mdrp(folder / name), args.max_orders)
        bound = list(lower_bound_click_to_door(day).values())
        on_time = sum(1 for v in bound if v <= day.target_s) / len(bound)
        print(f"| {name} | {len(day.orders)} | lower bound | {on_time:.1%} | "
              f"{statistics.mean(bound) / 60:.1f} / {sorted(bound)[int(0.9 * len(bound))] / 60:.1f}"
              " | | | |")  # fmt: skip
        policies = {
            "greedy": greedy_policy,
            "planner": planner_policy(time_limit_s=args.time_limit, margin_s=args.margin),
        }
        for label, policy in policies.items():
            kpis = figures(day, simulate(day, policy, tick_s=args.tick))
            print(
                f"| {name} | {len(day.orders)} | {label} | {kpis.on_time_share:.1%} | "
                f"{kpis.mean_click_to_door_min:.1f} / {kpis.p90_click_to_door_min:.1f} | "
                f"{kpis.orders_per_courier_hour:.2f} | {kpis.utilisation:.1%} | "
                f"{kpis.longest_plan_s:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
