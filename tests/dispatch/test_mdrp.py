"""The official MDRP rules on hand-made instances, the solution files, and the policies."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.mdrp import (
    Assignment,
    DayResult,
    Dispatch,
    Instance,
    MdrpCourier,
    MdrpOrder,
    PlanStats,
    RuleError,
    figures,
    lower_bound,
    quantile,
    read_instance,
    run_day,
    write_solution,
)
from dispatch.mdrp_policy import RollingHorizon, greedy
from dispatch.settings import PROJECT_ROOT

MDRP = PROJECT_ROOT.parent / "shared" / "benchmarks" / "grubhub_mdrp" / "public_instances"


def tiny(orders: tuple[MdrpOrder, ...], couriers: tuple[MdrpCourier, ...], **kw: float) -> Instance:
    restaurants = {"r1": (0.0, 0.0), "r2": (3200.0, 0.0)}
    return Instance(
        "tiny", restaurants, orders, couriers, metres_per_minute=kw.get("mpm", 320.0),
        pickup_service=4, dropoff_service=4, target=40, maximum=90,
        pay_per_order=10.0, pay_per_hour=15.0,
    )  # fmt: skip


def test_travel_is_the_ceiling_of_euclidean_minutes() -> None:
    instance = tiny((), ())
    assert instance.travel((0, 0), (320, 0)) == 1
    assert instance.travel((0, 0), (321, 0)) == 2
    assert instance.travel((0, 0), (300, 400)) == 2  # 500 m: 1.56 min rounds up
    assert instance.travel((5, 5), (5, 5)) == 0


def test_pickup_drop_off_and_departures_use_half_the_service_times() -> None:
    # courier 960 m (3 min) from r1; order ready at 10, door 640 m (2 min) from r1
    order = MdrpOrder("o1", (640.0, 0.0), placed=0, restaurant="r1", ready=10)
    courier = MdrpCourier("c1", (0.0, 960.0), on=0, off=120)
    dispatch = Dispatch(tiny((order,), (courier,)))
    early = dispatch.send(0, Assignment("c1", ("o1",)))
    assert early.arrive_restaurant == 3
    assert early.pickup == 10  # waits for the food: max(ready 10, arrival 3 + 2)
    assert early.drop_offs == (10 + 2 + 2 + 2,)  # leave at pickup + 2, ride 2, drop at arrival + 2
    assert early.free_at == 18 and early.driving == 5
    late = Dispatch(tiny((order,), (courier,))).send(9, Assignment("c1", ("o1",)))
    assert late.arrive_restaurant == 12 and late.pickup == 14  # arrival + s_r / 2
    assert late.drop_offs == (14 + 2 + 2 + 2,)


def test_a_bundle_drops_off_in_sequence_and_waits_for_its_latest_order() -> None:
    a = MdrpOrder("a", (320.0, 0.0), placed=0, restaurant="r1", ready=5)
    b = MdrpOrder("b", (960.0, 0.0), placed=1, restaurant="r1", ready=8)
    courier = MdrpCourier("c1", (0.0, 0.0), on=0, off=60)
    trip = Dispatch(tiny((a, b), (courier,))).send(1, Assignment("c1", ("a", "b")))
    assert trip.pickup == 8  # the bundle's ready time is its latest
    # leave 10, ride 1 -> arrive 11, drop 13, leave 15, ride 2 -> arrive 17, drop 19
    assert trip.drop_offs == (13, 19) and trip.free_at == 21


def test_couriers_start_at_their_on_location_from_their_on_time() -> None:
    order = MdrpOrder("o1", (0.0, 320.0), placed=0, restaurant="r1", ready=0)
    courier = MdrpCourier("c1", (3200.0, 0.0), on=30, off=120)  # at r2: 10 min from r1
    dispatch = Dispatch(tiny((order,), (courier,)))
    assert dispatch.waiting(29) == []
    with pytest.raises(RuleError, match="not on duty"):
        dispatch.send(29, Assignment("c1", ("o1",)))
    trip = dispatch.send(30, Assignment("c1", ("o1",)))
    assert (trip.origin, trip.arrive_restaurant, trip.pickup) == ("c1", 40, 42)


def test_a_courier_must_pick_up_by_its_off_time_and_may_drop_off_after() -> None:
    order = MdrpOrder("o1", (0.0, 3200.0), placed=0, restaurant="r1", ready=0)
    courier = MdrpCourier("c1", (0.0, 960.0), on=0, off=15)  # 3 min from r1
    with pytest.raises(RuleError, match="off-time"):
        Dispatch(tiny((order,), (courier,))).send(11, Assignment("c1", ("o1",)))  # pickup 16
    trip = Dispatch(tiny((order,), (courier,))).send(10, Assignment("c1", ("o1",)))
    assert trip.pickup == 15 and trip.drop_offs[0] > courier.off


def test_bundles_hold_one_restaurant_and_sent_assignments_are_never_changed() -> None:
    a = MdrpOrder("a", (320.0, 0.0), placed=0, restaurant="r1", ready=0)
    b = MdrpOrder("b", (3520.0, 0.0), placed=0, restaurant="r2", ready=0)
    c = MdrpOrder("c", (640.0, 0.0), placed=20, restaurant="r1", ready=20)
    couriers = (MdrpCourier("c1", (0.0, 0.0), 0, 120), MdrpCourier("c2", (0.0, 0.0), 0, 120))
    dispatch = Dispatch(tiny((a, b, c), couriers))
    with pytest.raises(RuleError, match="one restaurant"):
        dispatch.send(0, Assignment("c1", ("a", "b")))
    with pytest.raises(RuleError, match="not placed"):
        dispatch.send(0, Assignment("c1", ("c",)))
    trip = dispatch.send(0, Assignment("c1", ("a",)))
    with pytest.raises(RuleError, match="busy"):  # no diversion, no update en route
        dispatch.send(trip.free_at - 1, Assignment("c1", ("b",)))
    with pytest.raises(RuleError, match="already assigned"):
        dispatch.send(0, Assignment("c2", ("a",)))
    follow = dispatch.send(trip.free_at, Assignment("c1", ("b",)))
    assert follow.origin == "a"  # it waited at the last drop-off of its assignment


def random_instance(seed: int) -> Instance:
    rng = random.Random(seed)
    orders = []
    for i in range(30):
        placed = rng.randint(0, 120)
        orders.append(
            MdrpOrder(f"o{i}", (rng.uniform(0, 4000), rng.uniform(0, 4000)), placed,
                      rng.choice(["r1", "r2"]), placed + rng.randint(5, 25))
        )  # fmt: skip
    couriers = tuple(
        MdrpCourier(f"c{k}", (rng.uniform(0, 4000), rng.uniform(0, 4000)), 0, 240) for k in range(4)
    )
    return tiny(tuple(orders), couriers)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("label", ["greedy", "greedy-lead", "rolling-horizon"])
def test_policies_keep_the_rules_and_never_beat_the_lower_bound(seed: int, label: str) -> None:
    instance = random_instance(seed)
    rolling = RollingHorizon(instance)
    policy = {"greedy": greedy(0), "greedy-lead": greedy(10), "rolling-horizon": rolling}[label]
    result = run_day(instance, policy, stats=rolling.stats)
    bound = lower_bound(instance)
    orders = {o.id: o for o in instance.orders}
    delivered = [(o, d) for t in result.trips for o, d in zip(t.orders, t.drop_offs, strict=True)]
    assert len(delivered) == len(instance.orders) == len({o for o, _ in delivered})
    for order_id, drop in delivered:
        assert drop - orders[order_id].placed >= bound[order_id]
    for trip in result.trips:
        assert len({orders[o].restaurant for o in trip.orders}) == 1
    kpis = figures(instance, result)
    assert kpis.undelivered_share == 0 and 0 < kpis.utilisation <= 1
    assert kpis.decision_max_s < 1.0


def test_the_rolling_horizon_bundles_when_couriers_are_scarce() -> None:
    orders = tuple(
        MdrpOrder(f"o{i}", (320.0 * (1 + i % 3), 100.0), placed=0, restaurant="r1", ready=10)
        for i in range(6)
    )
    instance = tiny(orders, (MdrpCourier("c1", (0.0, 0.0), 0, 240),))
    result = run_day(instance, RollingHorizon(instance))
    assert max(len(t.orders) for t in result.trips) > 1
    assert sum(len(t.orders) for t in result.trips) == 6


def test_figures_follow_the_paper() -> None:
    a = MdrpOrder("a", (320.0, 0.0), placed=0, restaurant="r1", ready=5)
    b = MdrpOrder("b", (0.0, 32000.0), placed=0, restaurant="r1", ready=5)
    never = MdrpOrder("n", (0.0, 320.0), placed=0, restaurant="r1", ready=5)
    couriers = (MdrpCourier("c1", (0.0, 0.0), 0, 60), MdrpCourier("c2", (0.0, 0.0), 0, 120))
    instance = tiny((a, b, never), couriers)
    dispatch = Dispatch(instance)
    first = dispatch.send(0, Assignment("c1", ("a",)))  # drop at 5+2+1+2 = 10
    second = dispatch.send(0, Assignment("c2", ("b",)))  # leave 7, ride 100, drop at 109
    kpis = figures(instance, DayResult((first, second), (0.01,), PlanStats(3, (0, 1, 4))))
    assert kpis.delivered == 2 and kpis.undelivered_share == pytest.approx(1 / 3)
    assert kpis.click_to_door_mean == pytest.approx((10 + 109) / 2)
    assert kpis.within_target_share == pytest.approx(1 / 3) and kpis.within_maximum_share == 1 / 3
    assert kpis.overage_mean == pytest.approx((0 + 69) / 2)
    assert kpis.ready_to_pickup_mean == 0
    # pay: c1 max(10, 15 * 1 h) = 15, c2 max(10, 15 * 2 h) = 30 -> $45 for two orders
    assert kpis.total_pay == 45 and kpis.cost_per_order == 22.5
    assert kpis.orders_per_courier_hour == pytest.approx(2 / 3)
    assert kpis.utilisation == pytest.approx(((1 + 4 + 4) / 60 + (100 + 4 + 4) / 120) / 2)
    assert kpis.reassignments_per_order == 1 and kpis.eta_change_p90 == pytest.approx(3.4)


def test_quantile_interpolates_like_numpy() -> None:
    assert quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == pytest.approx(9.1)
    assert quantile([7], 0.9) == 7 and math.isnan(quantile([], 0.5))


def test_solution_files_have_the_evaluator_layout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = MdrpOrder("a", (320.0, 0.0), placed=0, restaurant="r1", ready=5)
    b = MdrpOrder("b", (960.0, 0.0), placed=1, restaurant="r1", ready=8)
    instance = tiny((a, b), (MdrpCourier("c1", (0.0, 640.0), 0, 60),))
    dispatch = Dispatch(instance)
    trip = dispatch.send(1, Assignment("c1", ("a", "b")))
    write_solution(instance, [trip], tmp_path)
    assignments = (tmp_path / "solution_info_assignments.txt").read_text().splitlines()
    assert assignments[1:] == ["1 8 c1 a b"]
    orders = (tmp_path / "solution_info_orders.txt").read_text().splitlines()
    assert orders[0].split() == [
        "order", "placement_time", "ready_time", "pickup_time", "dropoff_time", "courier"
    ]  # fmt: skip
    assert orders[1:] == ["a 0 5 8 13 c1", "b 1 8 8 19 c1"]
    moves = (tmp_path / "solution_info_couriers.txt").read_text().splitlines()
    assert moves[1:] == ["c1 1 0 r1", "c1 10 r1 a", "c1 15 a b"]


@pytest.mark.parametrize("name", ["0r50t100s1p100", "0r50t75s2p125"])
def test_small_public_instances_run_whole_days(name: str) -> None:
    instance = read_instance(MDRP / name)
    assert len(instance.orders) == 242 and instance.target == 40
    rolling = RollingHorizon(instance)
    result = run_day(instance, rolling, stats=rolling.stats)
    kpis = figures(instance, result)
    base = figures(instance, run_day(instance, greedy(0)))
    assert kpis.undelivered_share <= 0.01 and kpis.decision_max_s < 1.0
    assert kpis.click_to_door_mean < base.click_to_door_mean


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rolling_horizon_keeps_a_plan_between_equal_couriers(seed: int) -> None:
    """Orders planned long before they are sent stay with their courier while nothing changes."""
    rng = random.Random(seed)
    # couriers in pairs on the same spot: every pairing has an equal twin
    spots = [(rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)) for _ in range(3)]
    couriers = tuple(
        MdrpCourier(f"c{k}", spots[k // 2], 0, 240) for k in range(2 * len(spots))
    )  # fmt: skip
    orders = tuple(
        MdrpOrder(f"o{i}", (rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)), placed=0,
                  restaurant=rng.choice(["r1", "r2"]), ready=25)
        for i in range(4)
    )  # fmt: skip
    instance = tiny(orders, couriers)
    policy = RollingHorizon(instance)
    result = run_day(instance, policy, stats=policy.stats)
    assert sum(len(t.orders) for t in result.trips) == len(orders)
    assert result.stats.eta_changes  # planned on several cycles before being sent
    assert result.stats.reassignments == 0


@settings(max_examples=25, deadline=None)
@given(ride=st.integers(0, 12), lead=st.integers(0, 20), mpm=st.sampled_from([160.0, 320.0]))
def test_a_waiting_courier_leaves_at_the_last_minute_that_arrives_before_ready(
    ride: int, lead: int, mpm: float
) -> None:
    """The rolling horizon sends an idle courier to arrive s_r/2 before the food is ready, no
    earlier (it stays free to take a better order until then) and no later (the food waits)."""
    half = 2  # s_r / 2 of tiny()
    ready = ride + half + lead  # reachable on time from minute 0
    courier = MdrpCourier("c1", (0.0, ride * mpm), on=0, off=240)  # ``ride`` minutes from r1
    order = MdrpOrder("o1", (mpm, 0.0), placed=0, restaurant="r1", ready=ready)
    instance = tiny((order,), (courier,), mpm=mpm)
    (trip,) = run_day(instance, RollingHorizon(instance)).trips
    assert trip.at == ready - ride - half
    assert trip.arrive_restaurant == ready - half and trip.pickup == ready
