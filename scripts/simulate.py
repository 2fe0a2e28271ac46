#!/usr/bin/env python3
"""Simulate delivery days: MDRP instances under the official rules, or generated demo-city days.

    python scripts/simulate.py --csv var/mdrp.csv               # all 240 MDRP instances
    python scripts/simulate.py --only '0r50*' --write-solutions var/mdrp-solutions
    python scripts/simulate.py --demo-city --plots docs/figures  # a generated Taichung day

MDRP (the default): each Grubhub instance, a whole day, under the rules of MDRPInstances.pdf
(dispatch/mdrp.py) with three policies: greedy (each order, once ready, to the nearest waiting
courier), greedy with a dispatch lead (the same ``--lead`` minutes before ready) and our rolling
horizon (dispatch/mdrp_policy.py, re-optimised every ``--cycle`` minutes), beside the
infinite-fleet lower bound. A progress bar counts instance-policy runs; ``--csv`` gets one row per
instance and policy; the script prints the paper's figures overall and by factor (sampling,
travel, shifts, preparation), each a mean over instances. ``--write-solutions DIR`` writes the
official evaluator's three files to DIR/<instance>/<policy>/.

Demo city (--demo-city): generated days on the demo stores of Taichung with street travel times
from the OSM extract and a 60-minute target, run by the service's simulator (dispatch/simulator.py,
our own rules: full service times, multi-store routes) with our planner and a greedy baseline.
With --plots it writes a click-to-door histogram, the on-time share by hour and a route map.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, machine
from sim_plots import click_to_door_histogram, on_time_by_hour, route_map

from dispatch.demo_day import COURIERS, generated_day
from dispatch.mdrp import (
    DayResult,
    Figures,
    Instance,
    lower_bound_figures,
    read_instance,
    run_day,
    write_solution,
)
from dispatch.mdrp import figures as mdrp_figures
from dispatch.mdrp_policy import RollingHorizon, greedy
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
    """(name, day, positions are lat/lng) for every generated demo-city day asked for."""
    stores = [s for s in load_catalogue(args.catalogue) if s.lat < TAICHUNG_MAX_LAT]
    travel = RoadNetworkTravel.from_osm(args.road_extract, cache_dir=ROOT / "var" / "cache")
    for seed in range(1, (args.limit or 1) + 1):
        day = generated_day([(s.lat, s.lng) for s in stores], travel, orders=args.orders,
                            couriers=args.couriers, seed=seed)  # fmt: skip
        yield f"taichung-day-{seed}", first_orders(day, args.max_orders), True


POLICIES = ("greedy", "greedy-lead", "rolling-horizon")
Row = dict[str, Any]  # one CSV row: instance, factors, policy, figures
FACTORS = {  # name part -> (factor, how the paper names its levels)
    "sampling": lambda name: name[1:].split("t")[0],  # o100 (all orders), o50, r50 (restaurants)
    "travel": lambda name: "t" + name.split("t")[1].split("s")[0],  # t100, t75 (short distances)
    "shifts": lambda name: "s" + name.split("s")[1].split("p")[0],  # s1 rule of thumb, s2 flexible
    "preparation": lambda name: "p" + name.split("p")[1],  # p100, p125 (longer preparation)
}
COLUMNS = (  # (figure, header, format) for the summary tables
    ("undelivered_share", "undelivered", "{:.2%}"),
    ("click_to_door_mean", "click-to-door mean", "{:.2f}"),
    ("click_to_door_p90", "p90", "{:.1f}"),
    ("within_target_share", "within 40", "{:.1%}"),
    ("within_maximum_share", "within 90", "{:.1%}"),
    ("overage_mean", "overage past 40", "{:.2f}"),
    ("ready_to_pickup_mean", "ready-to-pickup", "{:.2f}"),
    ("orders_per_courier_hour", "orders / courier-hour", "{:.2f}"),
    ("utilisation", "utilisation", "{:.1%}"),
    ("cost_per_order", "cost / order", "${:.2f}"),
    ("bundle_mean", "orders / trip", "{:.2f}"),
    ("reassignments_per_order", "reassignments / order", "{:.2f}"),
    ("eta_change_p50", "ETA change p50", "{:.1f}"),
    ("eta_change_p90", "ETA change p90", "{:.1f}"),
    ("decision_max_s", "slowest decision (s)", "{:.3f}"),
)


def run_policy(instance: Instance, label: str, args: argparse.Namespace) -> DayResult:
    if label == "greedy":
        return run_day(instance, greedy(0))
    if label == "greedy-lead":
        return run_day(instance, greedy(args.lead))
    policy = RollingHorizon(instance)
    return run_day(instance, policy, cycle=args.cycle, stats=policy.stats)


def run_mdrp(args: argparse.Namespace) -> None:
    folder = args.data_dir / "grubhub_mdrp" / "public_instances"
    patterns = args.only.split(",")
    names = sorted(
        p.name for p in folder.iterdir() if any(fnmatch.fnmatch(p.name, x) for x in patterns)
    )[: args.limit]
    print(f"machine: {machine()}")
    print(
        f"{len(names)} instances, whole days, cycle {args.cycle} min, greedy lead {args.lead} min"
    )
    rows: list[Row] = []
    out = None
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        out = args.csv.open("w", newline="")
    writer = None
    with tqdm(total=len(names) * len(POLICIES), unit="run", disable=None) as bar:
        for name in names:
            instance = read_instance(folder / name)
            bound = lower_bound_figures(instance)
            factors = {factor: part(name) for factor, part in FACTORS.items()}
            base = {"instance": name, "family": name[0], **factors, "orders": len(instance.orders),
                    "couriers": len(instance.couriers)}  # fmt: skip
            rows.append({**base, "policy": "lower bound", **bound, "seconds": 0.0})
            for label in POLICIES:
                bar.set_description(f"{name} {label}")
                began = time.perf_counter()
                result = run_policy(instance, label, args)
                seconds = time.perf_counter() - began
                if args.write_solutions:
                    write_solution(instance, result.trips, args.write_solutions / name / label)
                kpis: Figures = mdrp_figures(instance, result)
                rows.append({**base, "policy": label, **asdict(kpis), "seconds": seconds})
                bar.update()
            if out is not None:
                for row in rows[-1 - len(POLICIES) :]:
                    if writer is None:
                        writer = csv.DictWriter(out, fieldnames=list(rows[1].keys()))
                        writer.writeheader()
                    writer.writerow({k: row.get(k, "") for k in writer.fieldnames})
                out.flush()
    if out is not None:
        out.close()
    print_summary(rows, "all", lambda row: "all")
    for factor in ("family", *FACTORS):
        print_summary(rows, factor, lambda row, f=factor: str(row[f]))


def print_summary(rows: Sequence[Row], title: str, key: Callable[[Row], str]) -> None:
    """One markdown table: per level of a factor and policy, each figure's mean over instances
    (the slowest decision: the maximum)."""
    print(f"\n### by {title}\n")
    print("| " + title + " | policy | instances | " + " | ".join(h for _, h, _ in COLUMNS) + " |")
    print("|---" * (3 + len(COLUMNS)) + "|")
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(key(row), str(row["policy"]))].append(row)
    rank = {"lower bound": 0, **{p: i + 1 for i, p in enumerate(POLICIES)}}
    for (level, policy), members in sorted(groups.items(), key=lambda g: (g[0][0], rank[g[0][1]])):
        cells = []
        for field, _, fmt in COLUMNS:
            values = [float(m[field]) for m in members if field in m]
            summary = max if field == "decision_max_s" else statistics.fmean
            cells.append(fmt.format(summary(values)) if values else "")
        print(f"| {level} | {policy} | {len(members)} | " + " | ".join(cells) + " |")


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
    parser.add_argument("--only", default="*", help="MDRP instance name patterns, comma-separated")
    parser.add_argument("--limit", type=int, help="at most this many days (demo city: 1)")
    parser.add_argument("--max-orders", type=int, help="cut each day to its first N orders")
    parser.add_argument("--tick", type=int, default=60, help="simulated seconds between plans")
    parser.add_argument("--time-limit", type=float, default=0.5, help="planner seconds per tick")
    parser.add_argument(
        "--margin", type=int, default=900, help="plan to promises this many seconds early"
    )
    parser.add_argument(
        "--wait-cost", type=int, default=0, help="planner cost per second a ready order waits"
    )
    mdrp = parser.add_argument_group("MDRP instances (the default)")
    mdrp.add_argument("--csv", type=Path, help="write one row per instance and policy here")
    mdrp.add_argument("--write-solutions", type=Path, help="the evaluator's files, per policy")
    mdrp.add_argument("--cycle", type=int, default=1, help="minutes between re-optimisations")
    mdrp.add_argument("--lead", type=int, default=10, help="greedy-lead: minutes before ready")
    parser.add_argument("--plots", type=Path, help="demo city: write PNG figures here")
    demo = parser.add_argument_group("generated demo-city days (--demo-city)")
    demo.add_argument("--demo-city", action="store_true", help="simulate generated Taichung days")
    demo.add_argument("--orders", type=int, default=300, help="orders in a generated day")
    demo.add_argument("--couriers", type=int, default=COURIERS, help="couriers in a generated day")
    demo.add_argument("--catalogue", type=Path, default=ROOT / "data" / "demo_stores.geojson")
    demo.add_argument(
        "--road-extract", type=Path, default=ROOT / "data" / "osm" / "taichung_xitun.osm.bz2"
    )
    args = parser.parse_args()
    if not args.demo_city:
        run_mdrp(args)
        return

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
