#!/usr/bin/env python3
"""Dispatch snapshots on the demo city: our planner against VROOM on the same matrix.

    python scripts/bench_snapshots.py                      # 40/10 80/12 120/14 300/40, seeds 1-3
    python scripts/bench_snapshots.py --sizes 1000/150 --seeds 1

A snapshot: open orders at the real Taichung stores of the demo catalogue, each placed in the
last 15 min, ready 5-15 min after placement, promised 60 min after placement, delivered within
2 km of its store; e-bike couriers of capacity 3 scattered within 1.5 km of the centre, free
now, shifts of 4 h. Travel is the straight line x 1.3 at 4.5 m/s, ceiled to whole seconds,
with 120 s of service at every pick-up and drop-off. Our ``plan_dispatch`` (every order
planned, late if it must) and VROOM (pyvroom, exploration 5, 2 threads, hard promise windows;
what it leaves out counts as not kept) solve the same snapshot in the same run. Travel
excludes service.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import vroom

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, machine, solve_with_vroom

from dispatch.planner import CourierState, DispatchPlan, OpenOrder, plan_dispatch
from geo.distance import EARTH_RADIUS_M
from geo.travel import LatLng

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=UTC)
SPEED_MPS = 4.5
CIRCUITY = 1.3
SERVICE_S = 120
DELIVERY_RADIUS_M = 2000.0  # doors within 2 km of their store
COURIER_RADIUS_M = 1500.0  # couriers within 1.5 km of the stores' centre
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True, slots=True)
class BenchTravel:
    """The snapshot's travel model: straight line x 1.3 at 4.5 m/s, whole seconds rounded up,
    the same for every vehicle."""

    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        return float(self.matrix_seconds([a, b], vehicle=vehicle)[0][1])

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        lat = np.radians(np.array([p[0] for p in points], dtype=np.float64))
        lng = np.radians(np.array([p[1] for p in points], dtype=np.float64))
        hav = (
            np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
            + np.cos(lat[:, None])
            * np.cos(lat[None, :])
            * np.sin((lng[:, None] - lng[None, :]) / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
        seconds: list[list[int]] = (
            np.ceil(metres * CIRCUITY / SPEED_MPS - 1e-9).astype(int).tolist()
        )
        return seconds

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        return [a, b]


@dataclass(frozen=True, slots=True)
class Snapshot:
    name: str
    orders: list[OpenOrder]
    couriers: list[CourierState]


@dataclass(frozen=True, slots=True)
class Result:
    on_time: int
    late: int
    late_min: float
    travel_s: int
    seconds: float
    delivered: int  # VROOM's are all on time; ours include the late ones
    # ours: the travel of the same routes with the late orders' stops skipped, what the plan
    # would travel carrying only what it keeps on time, as VROOM's does (VROOM: its travel)
    on_time_travel_s: int = 0

    @property
    def on_time_routes_per_on_time(self) -> float:
        return self.on_time_travel_s / self.on_time if self.on_time else math.inf

    @property
    def travel_per_served(self) -> float:
        return self.travel_s / self.delivered if self.delivered else math.inf

    @property
    def travel_per_on_time(self) -> float:
        return self.travel_s / self.on_time if self.on_time else math.inf


def taichung_stores() -> list[LatLng]:
    features = json.loads((ROOT / "data" / "demo_stores.geojson").read_text())["features"]
    points = [(f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]) for f in features]
    return [p for p in points if p[0] < 24.5]  # Zhubei is the other demo city, further north


def around(rng: random.Random, centre: LatLng, radius_m: float) -> LatLng:
    """A point uniformly in the disc of ``radius_m`` around ``centre``."""
    r = radius_m * math.sqrt(rng.random())
    angle = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(angle) / METRES_PER_DEGREE
    dlng = r * math.sin(angle) / (METRES_PER_DEGREE * math.cos(math.radians(centre[0])))
    return (round(centre[0] + dlat, 6), round(centre[1] + dlng, 6))


def make_snapshot(n_orders: int, n_couriers: int, seed: int) -> Snapshot:
    rng = random.Random(seed * 1_000_003 + n_orders)
    stores = taichung_stores()
    centre = (statistics.mean(p[0] for p in stores), statistics.mean(p[1] for p in stores))
    orders = []
    for i in range(n_orders):
        placed = NOW - timedelta(seconds=rng.randint(0, 900))
        store = rng.choice(stores)
        orders.append(
            OpenOrder(
                f"o{i}", store, around(rng, store, DELIVERY_RADIUS_M),
                ready_at=placed + timedelta(seconds=rng.randint(300, 900)),
                promised_by=placed + timedelta(minutes=60),
                pickup_service_s=SERVICE_S, delivery_service_s=SERVICE_S,
            )
        )  # fmt: skip
    shift_end = NOW + timedelta(hours=4)
    couriers = [
        CourierState(f"c{k}", around(rng, centre, COURIER_RADIUS_M), "e-bike", 3, shift_end)
        for k in range(n_couriers)
    ]
    return Snapshot(f"{n_orders}/{n_couriers} seed {seed}", orders, couriers)


def run_ours(snapshot: Snapshot, seconds: float) -> tuple[Result, DispatchPlan]:
    travel = BenchTravel()
    started = time.perf_counter()
    plan = plan_dispatch(snapshot.orders, snapshot.couriers, now=NOW, travel=travel,
                         time_limit_s=seconds)  # fmt: skip
    elapsed = time.perf_counter() - started
    where = {c.id: c.position for c in snapshot.couriers}
    late = plan.late_orders
    travel_s = on_time_travel_s = 0
    for route in plan.routes:
        points = [where[route.courier_id], *(s.position for s in route.stops)]
        travel_s += sum(int(travel.seconds(a, b, vehicle="e-bike")) for a, b in pairwise(points))
        kept = [where[route.courier_id], *(s.position for s in route.stops
                                           if s.order_id not in late)]  # fmt: skip
        on_time_travel_s += sum(int(travel.seconds(a, b, vehicle="e-bike"))
                                for a, b in pairwise(kept))  # fmt: skip
    on_time = len(snapshot.orders) - len(late) - len(plan.unassigned)
    late_min = sum(late.values()) / 60
    late_count = len(snapshot.orders) - on_time
    result = Result(on_time, late_count, late_min, travel_s, elapsed, on_time + len(late),
                    on_time_travel_s)  # fmt: skip
    return result, plan


def run_vroom(snapshot: Snapshot, seconds: float) -> Result:
    """VROOM on the snapshot's matrix, promises as hard windows: what it leaves out is late."""
    points: dict[LatLng, int] = {}

    def node(position: LatLng) -> int:
        return points.setdefault(position, len(points))

    def at(moment: datetime) -> int:
        return max(0, round((moment - NOW).total_seconds()))

    for courier in snapshot.couriers:
        node(courier.position)
    for order in snapshot.orders:
        node(order.store), node(order.customer)
    matrix = BenchTravel().matrix_seconds(list(points), vehicle="e-bike")
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=matrix)
    for k, courier in enumerate(snapshot.couriers):
        problem.add_vehicle(
            vroom.Vehicle(k + 1, start=node(courier.position), capacity=vroom.Amount([3]),
                          time_window=vroom.TimeWindow(0, at(courier.shift_end)))
        )  # fmt: skip
    horizon = at(NOW + timedelta(hours=4))
    for i, order in enumerate(snapshot.orders):
        problem.add_shipment(
            vroom.ShipmentStep(2 * i + 1, location=node(order.store), default_service=SERVICE_S,
                               time_windows=[vroom.TimeWindow(at(order.ready_at), horizon)]),
            vroom.ShipmentStep(2 * i + 2, location=node(order.customer),
                               default_service=SERVICE_S,
                               time_windows=[vroom.TimeWindow(0, at(order.promised_by))]),
            amount=vroom.Amount([1]),
        )  # fmt: skip
    found = solve_with_vroom(problem, seconds)
    travel_s = sum(matrix[a][b] for nodes in found.routes for a, b in pairwise(nodes))
    on_time = len(snapshot.orders) - found.unassigned
    return Result(on_time, len(snapshot.orders) - on_time, 0.0, travel_s, found.seconds, on_time,
                  travel_s)  # fmt: skip


def check_complete(snapshot: Snapshot, plan: DispatchPlan) -> None:
    """Every order planned exactly once (a pick-up then a delivery), none left out."""
    seen = [(s.order_id, s.kind) for r in plan.routes for s in r.stops]
    expected = {(o.id, k) for o in snapshot.orders for k in ("pickup", "delivery")}
    if plan.unassigned or len(seen) != len(expected) or set(seen) != expected:
        msg = f"{snapshot.name}: incomplete plan ({len(plan.unassigned)} unassigned)"
        raise SystemExit(msg)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["40/10", "80/12", "120/14", "300/40"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds, both solvers")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{args.time_limit:g} s per snapshot for both solvers")
    print("| snapshot | ours on time / late / late min / travel h / s per on-time / s per "
          "delivered / time s | ours without the late orders' stops: s per on-time | "
          "VROOM on time / left out / travel h / s per on-time / time s |")  # fmt: skip
    print("|---|---|---|---|")
    summary: dict[str, list[tuple[Result, Result]]] = {}
    for size in args.sizes:
        n_orders, n_couriers = (int(v) for v in size.split("/"))
        for seed in args.seeds:
            snapshot = make_snapshot(n_orders, n_couriers, seed)
            ours, plan = run_ours(snapshot, args.time_limit)
            check_complete(snapshot, plan)
            peer = run_vroom(snapshot, args.time_limit)
            summary.setdefault(size, []).append((ours, peer))
            print(
                f"| {snapshot.name} | {ours.on_time} / {ours.late} / {ours.late_min:.0f} / "
                f"{ours.travel_s / 3600:.2f} / {ours.travel_per_on_time:.0f} / "
                f"{ours.travel_per_served:.0f} / {ours.seconds:.1f} | "
                f"{ours.on_time_routes_per_on_time:.0f} | {peer.on_time} / "
                f"{peer.late} / {peer.travel_s / 3600:.2f} / {peer.travel_per_on_time:.0f} / "
                f"{peer.seconds:.1f} |",
                flush=True,
            )
    print()
    print(
        "medians per size: on-time ours - VROOM; travel per on-time order and per delivered "
        "order and without the late orders' stops, ours / VROOM's per on-time; our late "
        "minutes and time"
    )
    for size, runs in summary.items():
        kept = statistics.median(o.on_time - p.on_time for o, p in runs)
        ratio = statistics.median(o.travel_per_on_time / p.travel_per_on_time for o, p in runs)
        served = statistics.median(o.travel_per_served / p.travel_per_on_time for o, p in runs)
        alone = statistics.median(
            o.on_time_routes_per_on_time / p.travel_per_on_time for o, p in runs
        )
        late_min = statistics.median(o.late_min for o, _ in runs)
        ours_s = statistics.median(o.seconds for o, _ in runs)
        print(f"{size}: on-time {kept:+g}, travel per on-time {ratio:.3f}x, "
              f"per delivered {served:.3f}x, without the late orders' stops {alone:.3f}x, "
              f"our late min {late_min:.0f}, our time {ours_s:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
