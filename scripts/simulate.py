#!/usr/bin/env python3
"""Simulate delivery days: our planner against the greedy baseline and the lower bound.

    python scripts/simulate.py --limit 20 --max-orders 150 --plots docs/figures
    python scripts/simulate.py --demo-city --plots docs/figures       # a generated Taichung day
    python scripts/simulate.py --only '0o100t100s1p100' --tick 120 --time-limit 0.3

Days are Grubhub MDRP instances (their own travel rule, service times and 40-minute target) or,
with --demo-city, a generated day on the demo stores of Taichung with street travel times from
the OSM extract and a 60-minute target. Each day runs under the simulated clock with each policy
and the script prints the share delivered within the target, mean and p90 click-to-door, orders
per courier-hour, courier utilisation and the longest planning time of a tick, beside the
infinite-fleet lower bound (each order picked up when ready and ridden straight to the door).
With --plots it writes a click-to-door histogram and the on-time share by hour over all days,
and a map of the first day's routes at its busiest moment.
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, machine
from sim_plots import click_to_door_histogram, on_time_by_hour, route_map

from dispatch.demo_day import generated_day
from dispatch.mdrp import read_mdrp
from dispatch.simulator import (
    Day,
    Outcome,
    figures,
    greedy_policy,
    lower_bound_click_to_door,
    planner_policy,
    simulate,
)
from geo.catalogue import load_catalogue
from geo.roads import RoadNetworkTravel

TAICHUNG_MAX_LAT = 24.5  # the demo catalogue also holds Zhubei; the street extract is Taichung's


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


def days(args: argparse.Namespace) -> Iterator[tuple[str, Day, bool]]:
    """(name, day, positions are lat/lng) for every day the arguments ask for."""
    if args.demo_city:
        stores = [s for s in load_catalogue(args.catalogue) if s.lat < TAICHUNG_MAX_LAT]
        travel = RoadNetworkTravel.from_osm(args.road_extract, cache_dir=ROOT / "var" / "cache")
        for seed in range(1, args.limit + 1):
            day = generated_day([(s.lat, s.lng) for s in stores], travel, orders=args.orders,
                                couriers=args.couriers, seed=seed)  # fmt: skip
            yield f"taichung-day-{seed}", first_orders(day, args.max_orders), True
        return
    folder = args.data_dir / "grubhub_mdrp" / "public_instances"
    names = sorted(p.name for p in folder.iterdir() if fnmatch.fnmatch(p.name, args.only))
    for name in names[: args.limit]:
        yield name, first_orders(read_mdrp(folder / name), args.max_orders), False


def busiest_moment(day: Day) -> int:
    """The middle of the hour with the most orders placed."""
    per_hour: dict[int, int] = defaultdict(int)
    for order in day.orders:
        per_hour[order.placed_at // 3600] += 1
    return max(per_hour, key=lambda h: per_hour[h]) * 3600 + 1800


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--only", default="*", help="MDRP instance name pattern")
    parser.add_argument("--limit", type=int, default=20, help="at most this many days")
    parser.add_argument("--max-orders", type=int, help="cut each day to its first N orders")
    parser.add_argument("--tick", type=int, default=60, help="simulated seconds between plans")
    parser.add_argument("--time-limit", type=float, default=0.5, help="planner seconds per tick")
    parser.add_argument(
        "--margin", type=int, default=900, help="plan to promises this many seconds early"
    )
    parser.add_argument(
        "--wait-cost", type=int, default=0, help="planner cost per second a ready order waits"
    )
    parser.add_argument("--plots", type=Path, help="write PNG figures into this folder")
    demo = parser.add_argument_group("generated demo-city days (--demo-city)")
    demo.add_argument("--demo-city", action="store_true", help="simulate generated Taichung days")
    demo.add_argument("--orders", type=int, default=300, help="orders in a generated day")
    demo.add_argument("--couriers", type=int, default=12, help="couriers in a generated day")
    demo.add_argument("--catalogue", type=Path, default=ROOT / "data" / "demo_stores.geojson")
    demo.add_argument(
        "--road-extract", type=Path, default=ROOT / "data" / "osm" / "taichung_xitun.osm.bz2"
    )
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(
        f"tick {args.tick} s, planner {args.time_limit:g} s a tick, margin {args.margin} s, "
        f"wait cost {args.wait_cost}"
    )
    print("| day | orders | policy | on time | mean / p90 click-to-door (min) "
          "| orders per courier-hour | utilisation | longest plan (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    minutes: dict[str, list[float]] = defaultdict(list)
    hourly: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    shares: dict[str, list[float]] = defaultdict(list)
    target_min = 0.0
    mapped = False
    for name, day, lat_lng in days(args):
        target_min = day.target_s / 60
        results: dict[str, dict[str, int]] = {"lower bound": lower_bound_click_to_door(day)}
        policies = {
            "greedy": greedy_policy,
            "planner": planner_policy(
                time_limit_s=args.time_limit, margin_s=args.margin, wait_cost=args.wait_cost
            ),
        }
        outcomes: dict[str, Outcome] = {}
        for label, policy in policies.items():
            with tqdm(desc=f"{name} {label}", unit="sim-min", leave=False, disable=None) as bar:
                outcome = simulate(
                    day, policy, tick_s=args.tick, snapshot_at=busiest_moment(day),
                    on_tick=lambda _clock: bar.update(args.tick / 60),
                )  # fmt: skip
            outcomes[label] = outcome
            results[label] = {
                o.id: outcome.delivered_at[o.id] - o.placed_at
                for o in day.orders
                if o.id in outcome.delivered_at
            }
        print_rows(name, day, results, outcomes)
        for label, c2d in results.items():
            shares[label].append(
                sum(1 for v in c2d.values() if v <= day.target_s) / len(day.orders)
            )
            minutes[label].extend(v / 60 for v in c2d.values())
            for order in day.orders:
                on_time = order.id in c2d and c2d[order.id] <= day.target_s
                hourly[label][order.placed_at // 3600].append(on_time)
        snapshot = outcomes["planner"].snapshot
        if args.plots and not mapped and snapshot is not None:
            args.plots.mkdir(parents=True, exist_ok=True)
            moment = (
                f"{snapshot.at // 3600:02d}:{snapshot.at % 3600 // 60:02d}"
                if lat_lng
                else f"minute {snapshot.at // 60} of the day"
            )  # MDRP times are relative
            route_map(snapshot, args.plots / f"routes-{name}.png",
                      f"{name}: planned routes at {moment}", lat_lng=lat_lng)  # fmt: skip
            mapped = True
    print()
    for label, values in shares.items():
        print(f"{label}: mean on-time share over {len(values)} days {statistics.mean(values):.1%}")
    if args.plots:
        prefix = "demo-city" if args.demo_city else "mdrp"
        count = len(shares["planner"])
        click_to_door_histogram(minutes, target_min, args.plots / f"{prefix}-click-to-door.png",
                                f"click-to-door over {count} days")  # fmt: skip
        on_time_by_hour(
            {label: {h: sum(v) / len(v) for h, v in by_hour.items()}
             for label, by_hour in hourly.items()},
            args.plots / f"{prefix}-on-time-by-hour.png", f"on time by hour over {count} days",
        )  # fmt: skip
        print(f"figures written to {args.plots}")


def print_rows(
    name: str, day: Day, results: dict[str, dict[str, int]], outcomes: dict[str, Outcome]
) -> None:
    bound = sorted(results["lower bound"].values())
    on_time = sum(1 for v in bound if v <= day.target_s) / len(bound)
    mean, p90 = statistics.mean(bound) / 60, bound[int(0.9 * len(bound))] / 60
    print(f"| {name} | {len(day.orders)} | lower bound | {on_time:.1%} | {mean:.1f} / {p90:.1f} "
          "| | | |")  # fmt: skip
    for label, outcome in outcomes.items():
        kpis = figures(day, outcome)
        print(
            f"| {name} | {len(day.orders)} | {label} | {kpis.on_time_share:.1%} | "
            f"{kpis.mean_click_to_door_min:.1f} / {kpis.p90_click_to_door_min:.1f} | "
            f"{kpis.orders_per_courier_hour:.2f} | {kpis.utilisation:.1%} | "
            f"{kpis.longest_plan_s:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
