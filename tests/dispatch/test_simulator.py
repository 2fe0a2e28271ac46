"""The simulator: every order delivered after it could be, never beating the lower bound."""

from __future__ import annotations

import math
import random

import pytest

from dispatch.mdrp import read_mdrp
from dispatch.settings import PROJECT_ROOT
from dispatch.simulator import (
    Day,
    Outcome,
    SimCourier,
    SimOrder,
    figures,
    greedy_policy,
    lower_bound_click_to_door,
    planner_policy,
    simulate,
)

MDRP = PROJECT_ROOT.parent / "shared" / "benchmarks" / "grubhub_mdrp" / "public_instances"


def small_day(seed: int) -> Day:
    rng = random.Random(seed)
    stores = [(rng.uniform(0, 4000), rng.uniform(0, 4000)) for _ in range(4)]
    orders = []
    for i in range(14):
        placed = rng.randint(0, 3600)
        door = (rng.uniform(0, 4000), rng.uniform(0, 4000))
        ready = placed + rng.randint(300, 900)
        orders.append(SimOrder(f"o{i}", placed, ready, rng.choice(stores), door))
    couriers = tuple(SimCourier(f"c{k}", (2000, 2000), 0, 7200, capacity=2) for k in range(3))

    def travel_s(a: tuple[float, float], b: tuple[float, float]) -> int:
        return 60 * math.ceil(math.dist(a, b) / 320)

    return Day(tuple(orders), couriers, travel_s, 240, 240, 2400)


def check(day: Day, outcome: Outcome) -> None:
    bound = lower_bound_click_to_door(day)
    for order in day.orders:
        assert order.id in outcome.delivered_at, "an order was never delivered"
        picked = outcome.picked_at[order.id]
        assert picked >= order.ready_at and picked >= order.placed_at
        assert outcome.delivered_at[order.id] >= picked + day.pickup_service_s
        assert outcome.delivered_at[order.id] - order.placed_at >= bound[order.id]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_greedy_and_planner_days_keep_the_rules(seed: int) -> None:
    """Both policies deliver everything, after readiness, and never beat the lower bound."""
    day = small_day(seed)
    greedy = simulate(day, greedy_policy, tick_s=60)
    check(day, greedy)
    planned = simulate(day, planner_policy(time_limit_s=0.1), tick_s=120)
    check(day, planned)
    kpis = figures(day, planned)
    assert kpis.delivered == len(day.orders) and 0 <= kpis.on_time_share <= 1
    assert 0 < kpis.utilisation <= 1 and kpis.longest_plan_s > 0


def test_reads_an_mdrp_instance() -> None:
    """The Grubhub format: orders, couriers, its own travel rule and service times."""
    day = read_mdrp(MDRP / "0o100t100s1p100")
    assert len(day.orders) == 505 and len(day.couriers) == 113
    assert (day.pickup_service_s, day.delivery_service_s, day.target_s) == (240, 240, 2400)
    first = day.orders[0]
    assert first.ready_at >= first.placed_at
    assert day.travel_s((0, 0), (320, 0)) == 60 and day.travel_s((0, 0), (321, 0)) == 120
    outcome = simulate(day, greedy_policy, tick_s=60)
    check(day, outcome)


def test_the_snapshot_shows_each_busy_courier_path_from_where_it_is() -> None:
    day = small_day(4)
    at = sorted(o.placed_at for o in day.orders)[len(day.orders) // 2]
    outcome = simulate(day, planner_policy(time_limit_s=0.1), tick_s=120, snapshot_at=at)
    snapshot = outcome.snapshot
    assert snapshot is not None and at <= snapshot.at < at + 120
    places = {p for o in day.orders for p in (o.store, o.customer)}
    starts = {c.start for c in day.couriers}
    for path in snapshot.paths.values():
        assert len(path) >= 2 and path[0] in places | starts and set(path[1:]) <= places
    assert all(o.placed_at <= snapshot.at for o in snapshot.waiting)
