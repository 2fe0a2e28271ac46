#!/usr/bin/env python3
"""Solomon VRPTW: our OR-Tools planner and PyVRP against the best-known solutions.

    python scripts/bench_vrptw.py                        # all 56 instances, 10 s each
    python scripts/bench_vrptw.py --only 'R1*' --time-limit 60

Both solvers get the same integer matrix (Euclidean distance x 100, rounded; travel time equals
distance), hard time windows, capacities and a fleet fixed cost so that fewer vehicles come
first, as in the hierarchical best-known solutions. Our planner is the same staged search as in
the Li & Lim benchmark (``solve_fewest_couriers``), with one worker. Distances are recomputed in
floating point from each solution's routes. PyVRP runs its own genetic search single-threaded, as
ours does.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from itertools import pairwise
from pathlib import Path

import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pdptw import ANNEAL_FROM, FLEET_COST, SCALE, Outcome, compare
from benchmark_common import ROOT

from dispatch.routing import Courier, RoutingProblem, SolveOptions, Task, solve_fewest_couriers

# PyVRP's penalty scheme breaks down with our 10^7 fleet cost (no feasible solution found);
# a vehicle worth 1000 distance units still outweighs any distance a vehicle fewer would cost
PYVRP_FLEET_COST = 1000 * SCALE


class Instance:
    """A Solomon instance: the depot is customer 0."""

    def __init__(self, path: Path) -> None:
        lines = [line.split() for line in path.read_text().splitlines()]
        self.name = path.stem
        header = next(i for i, line in enumerate(lines) if line[:1] == ["NUMBER"])
        self.vehicles, self.capacity = int(lines[header + 1][0]), int(lines[header + 1][1])
        # id x y demand ready due service
        self.rows = [[int(float(v)) for v in line] for line in lines if len(line) == 7
                     and line[0].isdigit()]  # fmt: skip
        self.points = [(float(r[1]), float(r[2])) for r in self.rows]

    def matrix(self) -> list[list[int]]:
        return [[round(math.dist(a, b) * SCALE) for b in self.points] for a in self.points]

    def distance(self, nodes: list[int]) -> float:
        route = [0, *nodes, 0]
        return sum(math.dist(self.points[a], self.points[b]) for a, b in pairwise(route))


def run_ours(instance: Instance, seconds: float) -> Outcome:
    depot = instance.rows[0]
    tasks = tuple(
        Task(str(r[0]), pickup=None, delivery=r[0], ready=0, delivery_ready=r[4] * SCALE,
             due=r[5] * SCALE, hard_due=True, size=r[3], delivery_service=r[6] * SCALE)
        for r in instance.rows[1:]
    )  # fmt: skip
    couriers = tuple(
        Courier(f"v{k}", 0, depot[4] * SCALE, depot[5] * SCALE, instance.capacity, end=0)
        for k in range(instance.vehicles)
    )
    started = time.perf_counter()
    # one worker: PyVRP searches on one core too
    options = SolveOptions(time_limit_s=seconds, vehicle_cost=FLEET_COST, anneal_from=ANNEAL_FROM)
    plan = solve_fewest_couriers(RoutingProblem(instance.matrix(), tasks, couriers), options)
    elapsed = time.perf_counter() - started
    distance = sum(instance.distance([v.node for v in r.visits]) for r in plan.routes if r.visits)
    return Outcome(plan.couriers_used, distance, len(plan.unassigned), elapsed)


def run_pyvrp(instance: Instance, seconds: float) -> Outcome:
    depot_row = instance.rows[0]
    model = pyvrp.Model()
    locations = [model.add_location(x, y) for x, y in instance.points]
    depot = model.add_depot(locations[0], tw_early=depot_row[4] * SCALE,
                            tw_late=depot_row[5] * SCALE)  # fmt: skip
    model.add_vehicle_type(instance.vehicles, capacity=instance.capacity, start_depot=depot,
                           end_depot=depot, fixed_cost=PYVRP_FLEET_COST,
                           tw_early=depot_row[4] * SCALE, tw_late=depot_row[5] * SCALE)  # fmt: skip
    for row in instance.rows[1:]:
        model.add_client(locations[row[0]], delivery=row[3], service_duration=row[6] * SCALE,
                         tw_early=row[4] * SCALE, tw_late=row[5] * SCALE)  # fmt: skip
    travel = instance.matrix()
    for i, a in enumerate(locations):
        for j, b in enumerate(locations):
            model.add_edge(a, b, distance=travel[i][j], duration=travel[i][j])
    started = time.perf_counter()
    result = model.solve(stop=MaxRuntime(seconds), seed=1, display=False)
    elapsed = time.perf_counter() - started
    best = result.best
    if not best.is_feasible():
        return Outcome(best.num_routes(), math.nan, len(instance.rows) - 1, elapsed)
    # PyVRP numbers clients from 0 in the order added: customer k is client k - 1
    routes = [[a.idx + 1 for a in route if a.is_client()] for route in best.routes()]
    distance = sum(instance.distance(route) for route in routes)
    unassigned = len(instance.rows) - 1 - sum(len(route) for route in routes)
    return Outcome(best.num_routes(), distance, unassigned, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--only", default="*", help="instance name pattern, e.g. 'R1*'")
    args = parser.parse_args()
    # PyVRP says when its penalties hit their cap on tight instances; the table shows the outcome
    warnings.filterwarnings("ignore", category=PenaltyBoundWarning)
    solvers = {"ours (OR-Tools)": run_ours, "PyVRP": run_pyvrp}
    compare(args.data_dir / "solomon_vrptw", "solomon", args.only, args.time_limit, Instance,
            solvers)  # fmt: skip


if __name__ == "__main__":
    main()
