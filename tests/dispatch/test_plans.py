"""Stored plans: a plan survives its JSON record unchanged, regions merge into one plan in force,
and taking a courier out leaves its orders unassigned and everything else as it was."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.planner import CourierRoute, DispatchPlan, PlannedStop
from dispatch.plans import CurrentPlan, RegionPlan, delivery_stops, routes_of
from tests.conftest import FIXED_NOW

COURIERS = ("c1", "c2", "c3")


@st.composite
def dispatch_plans(draw: st.DrawFn, prefix: str = "o") -> DispatchPlan:
    """A plan with each order picked up then delivered by one courier, at whole or
    fractional seconds (the stored times keep their microseconds)."""
    orders = draw(st.integers(0, 6))
    owners = [draw(st.sampled_from(COURIERS)) for _ in range(orders)]
    stops: dict[str, list[PlannedStop]] = {}
    for index, owner in enumerate(owners):
        order_id = f"{prefix}{index}"
        for kind in ("pickup", "delivery"):
            at = FIXED_NOW + timedelta(seconds=draw(st.floats(0, 7200).map(lambda s: round(s, 3))))
            late = draw(st.integers(0, 900)) if kind == "delivery" else 0
            position = (draw(st.floats(-89, 89)), draw(st.floats(-179, 179)))
            stops.setdefault(owner, []).append(
                PlannedStop(order_id, kind, position, at, at + timedelta(seconds=30),
                            at + timedelta(seconds=90), late),
            )  # fmt: skip
    routes = tuple(CourierRoute(c, tuple(s)) for c, s in sorted(stops.items()))
    left_out = draw(st.dictionaries(st.sampled_from([f"{prefix}x{i}" for i in range(4)]),
                                    st.sampled_from(["no courier", "store closed"])))  # fmt: skip
    solve = draw(st.floats(0, 5))
    return DispatchPlan(FIXED_NOW + timedelta(minutes=draw(st.integers(0, 30))), routes,
                        left_out, solve)  # fmt: skip


def order_ids(plan: RegionPlan | CurrentPlan) -> set[str]:
    return {s.order_id for r in plan.routes for s in r.stops}


@settings(max_examples=80, deadline=None)
@given(dispatch_plans(), st.integers(1, 10**6), st.sampled_from([None, "w1"]))
def test_a_stored_plan_survives_its_json_record(
    plan: DispatchPlan, version: int, planned_by: str | None
) -> None:
    """Written, read back: the same plan, and the same record byte for byte."""
    stored = RegionPlan.of(plan, version, region="r1", planned_by=planned_by)
    text = json.dumps(stored.to_record(), ensure_ascii=False)
    again = RegionPlan.from_record(json.loads(text))
    assert again == stored
    assert json.dumps(again.to_record(), ensure_ascii=False) == text
    stops = [s for r in again.routes for s in r.stops]
    assert [replace(s).to_record() for s in stops] == [s.to_record() for s in stops]
    assert order_ids(stored) == {s.order_id for r in plan.routes for s in r.stops}
    assert stored.late_orders == plan.late_orders and stored.on_time == plan.on_time


def test_a_record_from_before_regions_and_counts_still_reads() -> None:
    """Old records had no region, worker or counts: the region comes from the key."""
    plan = RegionPlan.of(DispatchPlan(FIXED_NOW, ()), 3, region="r9", planned_by=None)
    record = {k: v for k, v in plan.to_record().items()
              if k not in ("region", "planned_by", "on_time", "late", "late_minutes")}  # fmt: skip
    old = RegionPlan.from_record(record, region="r9")
    assert old == plan


@settings(max_examples=60, deadline=None)
@given(dispatch_plans("a"), dispatch_plans("b"), st.integers(2, 100))
def test_regions_merge_into_the_plan_in_force(
    first: DispatchPlan, second: DispatchPlan, version: int
) -> None:
    """Every region's routes, left-out and late orders, in one plan; the oldest plan's time."""
    plans = {"ra": RegionPlan.of(first, 1, region="ra", planned_by="w1"),
             "rb": RegionPlan.of(second, version, region="rb", planned_by=None)}  # fmt: skip
    merged = CurrentPlan.merged(plans, version)
    assert merged is not None
    assert merged.routes == plans["ra"].routes + plans["rb"].routes
    assert order_ids(merged) == order_ids(plans["ra"]) | order_ids(plans["rb"])
    assert dict(merged.unassigned) == {**first.unassigned, **second.unassigned}
    assert merged.on_time == first.on_time + second.on_time
    assert merged.late == len(merged.late_orders) == first.late + second.late
    assert merged.planned_at == min(first.planned_at, second.planned_at)
    assert {r: (s.version, s.planned_by) for r, s in merged.regions.items()} == {
        "ra": (1, "w1"), "rb": (version, None)}  # fmt: skip
    record = merged.to_record()
    keys = ["version", "planned_at", "solve_s", "routes", "unassigned", "late_orders",
            "on_time", "late", "late_minutes", "regions"]  # fmt: skip
    assert list(record) == keys
    assert merged.couriers_of_orders() == {s.order_id: r.courier_id for r in merged.routes
                                           for s in r.stops}  # fmt: skip
    assert {c: [o for o, _ in stops] for c, stops in merged.hint().items()} == {
        r.courier_id: [s.order_id for s in r.stops] for r in merged.routes}  # fmt: skip


def test_no_region_planned_is_no_plan() -> None:
    assert CurrentPlan.merged({}, 7) is None
    assert routes_of(None) == ()


@settings(max_examples=80, deadline=None)
@given(dispatch_plans(), st.sampled_from(COURIERS))
def test_a_courier_taken_out_leaves_its_orders_unassigned(
    plan: DispatchPlan, courier_id: str
) -> None:
    """Its orders become unassigned with the reason and stop counting late; other couriers'
    routes and reasons stay."""
    stored = RegionPlan.of(plan, 1, region="r1", planned_by="w1")
    theirs = {s.order_id for r in stored.routes if r.courier_id == courier_id for s in r.stops}
    after = stored.without_courier(courier_id, reason="gone", version=2)
    assert after.version == 2 and after.region == "r1" and after.planned_by == "w1"
    assert all(r.courier_id != courier_id for r in after.routes)
    assert after.routes == tuple(r for r in stored.routes if r.courier_id != courier_id)
    assert {o: after.unassigned[o] for o in theirs} == dict.fromkeys(theirs, "gone")
    assert all(
        after.unassigned[o] == why for o, why in stored.unassigned.items() if o not in theirs
    )
    assert not set(after.late_orders) & theirs
    assert set(after.late_orders) == set(stored.late_orders) - theirs


def test_delivery_stops_name_each_order_s_courier() -> None:
    at = FIXED_NOW
    stops = (PlannedStop("o1", "pickup", (24.1, 120.6), at, at, at, 0),
             PlannedStop("o1", "delivery", (24.2, 120.7), at, at, at, 60))  # fmt: skip
    stored = RegionPlan.of(DispatchPlan(at, (CourierRoute("c1", stops),)), 1, region="r",
                           planned_by=None)  # fmt: skip
    courier, stop = delivery_stops(stored.routes)["o1"]
    assert courier == "c1" and (stop.kind, stop.lat, stop.late_s) == ("delivery", 24.2, 60)
