#!/usr/bin/env python3
"""Li & Lim PDPTW: our OR-Tools planner and VROOM (pyvroom) against the best-known solutions.

    python scripts/bench_pdptw.py                          # li_lim_100, 10 s per instance
    python scripts/bench_pdptw.py --set li_lim_200 --time-limit 60 --only 'LC1*'

Both solvers get the same integer matrix (Euclidean distance x 100, rounded), hard time windows,
capacities and a fleet fixed cost that makes fewer vehicles come first, as the best-known
solutions do. Distances reported are recomputed in floating point from each solution's routes,
so they compare directly with the best-known figures. A gap is only meaningful where a solver
used as many vehicles as the best-known solution; the table says how many did.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import vroom

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, machine, solve_with_vroom

from dispatch.routing import Courier, RoutingProblem, SolveOptions, Task, solve_fewest_couriers

SCALE = 100
FLEET_COST = 10_000_000  # per vehicle used, in scaled units: dwarfs any distance saving
ANNEAL_FROM = 1000  # simulated annealing's start: 10 distance units, about one short arc


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    points: list[tuple[float, float]]
    rows: list[list[int]]  # id x y demand ready due service pickup delivery


@dataclass(frozen=True, slots=True)
class Outcome:
    vehicles: int
    distance: float
    unassigned: int
    seconds: float


def read_instance(path: Path) -> Instance:
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    vehicles, capacity = int(lines[0][0]), int(lines[0][1])
    rows = [[int(float(v)) for v in line] for line in lines[1:]]
    points = [(float(line[1]), float(line[2])) for line in lines[1:]]
    return Instance(path.stem, vehicles, capacity, points, rows)


def matrix(instance: Instance) -> list[list[int]]:
    return [[round(math.dist(a, b) * SCALE) for b in instance.points] for a in instance.points]


def route_distance(instance: Instance, nodes: list[int]) -> float:
    return sum(math.dist(instance.points[a], instance.points[b]) for a, b in pairwise(nodes))


def run_ours(instance: Instance, seconds: float) -> Outcome:
    depot = instance.rows[0]
    tasks = tuple(
        Task(
            str(row[0]),
            pickup=row[0],
            delivery=row[8],
            ready=row[4] * SCALE,
            pickup_due=row[5] * SCALE,
            delivery_ready=instance.rows[row[8]][4] * SCALE,
            due=instance.rows[row[8]][5] * SCALE,
            hard_due=True,
            size=row[3],
            pickup_service=row[6] * SCALE,
            delivery_service=instance.rows[row[8]][6] * SCALE,
        )
        for row in instance.rows[1:]
        if row[3] > 0
    )
    couriers = tuple(
        Courier(f"v{k}", 0, depot[4] * SCALE, depot[5] * SCALE, instance.capacity, end=0)
        for k in range(instance.vehicles)
    )
    travel = matrix(instance)
    started = time.perf_counter()
    options = SolveOptions(time_limit_s=seconds, vehicle_cost=FLEET_COST, anneal_from=ANNEAL_FROM,
                           workers=2)  # fmt: skip
    plan = solve_fewest_couriers(RoutingProblem(travel, tasks, couriers), options)
    elapsed = time.perf_counter() - started
    distance = sum(
        route_distance(instance, [0, *[v.node for v in route.visits], 0])
        for route in plan.routes
        if route.visits
    )
    return Outcome(plan.couriers_used, distance, len(plan.unassigned), elapsed)


def run_vroom(instance: Instance, seconds: float) -> Outcome:
    depot = instance.rows[0]
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=matrix(instance))
    for k in range(instance.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                k + 1, start=0, end=0, capacity=vroom.Amount([instance.capacity]),
                time_window=vroom.TimeWindow(depot[4] * SCALE, depot[5] * SCALE),
                costs=vroom.VehicleCosts(fixed=FLEET_COST),
            )
        )  # fmt: skip
    for row in instance.rows[1:]:
        if row[3] <= 0:
            continue
        drop = instance.rows[row[8]]
        problem.add_shipment(
            vroom.ShipmentStep(row[0], location=row[0], default_service=row[6] * SCALE,
                               time_windows=[vroom.TimeWindow(row[4] * SCALE, row[5] * SCALE)]),
            vroom.ShipmentStep(drop[0], location=drop[0], default_service=drop[6] * SCALE,
                               time_windows=[vroom.TimeWindow(drop[4] * SCALE, drop[5] * SCALE)]),
            amount=vroom.Amount([row[3]]),
        )  # fmt: skip
    found = solve_with_vroom(problem, seconds)
    distance = sum(route_distance(instance, nodes) for nodes in found.routes)
    return Outcome(len(found.routes), distance, found.unassigned, found.seconds)


def gap(outcome: Outcome, best: dict[str, float]) -> float | None:
    if outcome.vehicles != best["solved_with_vehicles"] or outcome.unassigned:
        return None
    return (outcome.distance - best["best_known_cost"]) / best["best_known_cost"] * 100


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--set", default="li_lim_100", choices=["li_lim_100", "li_lim_200"])
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--only", default="*", help="instance name pattern, e.g. 'lc1*'")
    args = parser.parse_args()
    solvers = {"ours (OR-Tools)": run_ours, "VROOM": run_vroom}
    compare(args.data_dir / "li_lim_pdptw", args.set, args.only, args.time_limit,
            read_instance, solvers)  # fmt: skip


def compare(
    folder: Path,
    subset: str,
    pattern: str,
    seconds: float,
    read: Callable[[Path], Any],
    solvers: dict[str, Callable[[Any, float], Outcome]],
) -> None:
    """Run every solver on each instance of ``folder/subset`` whose name matches ``pattern``
    and print the table against the folder's best-known solutions."""
    bks = json.loads((folder / "BKS.json").read_text())
    paths = sorted(p for p in (folder / subset).glob("*.txt") if fnmatch.fnmatch(p.stem, pattern))
    print(f"machine: {machine()}")
    print(f"{subset}: {len(paths)} instances, {seconds:g} s each for both solvers")
    table = BksTable(list(solvers))
    for path in paths:
        instance = read(path)
        outcomes = {name: solve(instance, seconds) for name, solve in solvers.items()}
        table.row(instance.name, bks[instance.name], outcomes)
    table.summary()


class BksTable:
    """The benchmark table: per instance each solver's vehicles, distance and gap to the
    best-known solution (BKS), then the summary, with the fair comparison: the mean gaps over
    the instances where every solver used the BKS fleet."""

    def __init__(self, solvers: list[str]) -> None:
        self.solvers = solvers
        self.gaps: list[dict[str, float | None]] = []
        print("| instance | BKS veh / dist | " + " | ".join(
            f"{name} veh / dist / gap" for name in solvers) + " |")  # fmt: skip
        print("|---|---|" + "---|" * len(solvers))

    def row(self, name: str, best: dict[str, Any], outcomes: dict[str, Outcome]) -> None:
        cells, gaps = [], {}
        for solver in self.solvers:
            outcome = outcomes[solver]
            gaps[solver] = g = gap(outcome, best)
            dropped = f" ({outcome.unassigned} unassigned)" if outcome.unassigned else ""
            shown = f"{g:+.2f} %" if g is not None else "n/a"
            cells.append(f"{outcome.vehicles} / {outcome.distance:.2f} / {shown}{dropped}")
        self.gaps.append(gaps)
        reference = f"{best['solved_with_vehicles']} / {best['best_known_cost']:.2f}"
        print(f"| {name} | {reference} | " + " | ".join(cells) + " |", flush=True)

    def summary(self) -> None:
        print()
        for solver in self.solvers:
            own = [g[solver] for g in self.gaps if g[solver] is not None]
            mean = f"{statistics.mean(own):.2f} %" if own else "n/a"  # type: ignore[arg-type]
            print(f"{solver}: best-known fleet size on {len(own)}/{len(self.gaps)} instances; "
                  f"mean distance gap on those {mean}")  # fmt: skip
        common = [g for g in self.gaps if all(v is not None for v in g.values())]
        if common:
            means = ", ".join(
                f"{solver} {statistics.mean(g[solver] for g in common):.2f} %"  # type: ignore[misc]
                for solver in self.solvers
            )
            print(f"where all reached it ({len(common)} instances), mean gap: {means}")


if __name__ == "__main__":
    main()
