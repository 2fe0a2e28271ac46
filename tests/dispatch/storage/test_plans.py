"""Plans in Redis: regions' plans read back merged, dropped, and a courier released from them."""

from __future__ import annotations

from datetime import timedelta

import redis

from dispatch.planner import CourierRoute, DispatchPlan, PlannedStop
from dispatch.storage.pins import pins, set_pin
from dispatch.storage.plans import (
    current_plan,
    drop_plan,
    planned_regions,
    region_plans,
    release_courier,
    save_plan,
)
from tests.conftest import FIXED_NOW


def plan_of(courier_id: str, *order_ids: str, late_s: int = 0) -> DispatchPlan:
    at = FIXED_NOW + timedelta(minutes=10)
    stops = tuple(
        PlannedStop(o, kind, (24.15, 120.65), at, at, at, late_s if kind == "delivery" else 0)
        for o in order_ids
        for kind in ("pickup", "delivery")
    )
    return DispatchPlan(FIXED_NOW, (CourierRoute(courier_id, stops),), {"o9": "no courier"}, 0.25)


def test_regions_plans_are_read_back_merged_and_dropped(redis_client: redis.Redis) -> None:
    assert current_plan(redis_client) is None
    first = save_plan(redis_client, plan_of("c1", "o1"), "ra", planned_by="w1")
    second = save_plan(redis_client, plan_of("c2", "o2", late_s=120), "rb")
    assert (first.version, second.version) == (1, 2)
    assert region_plans(redis_client) == {"ra": first, "rb": second}
    merged = current_plan(redis_client)
    assert merged is not None and merged.version == 2
    assert [r.courier_id for r in merged.routes] == ["c1", "c2"]
    assert dict(merged.late_orders) == {"o2": 120} and merged.late == 1 and merged.on_time == 1
    drop_plan(redis_client, "ra")
    assert planned_regions(redis_client) == {"rb"}
    after = current_plan(redis_client)
    assert after is not None and after.version == 3 and list(after.regions) == ["rb"]


def test_a_released_courier_leaves_the_plan_and_its_pins(redis_client: redis.Redis) -> None:
    save_plan(redis_client, plan_of("c1", "o1", "o2", late_s=60), "ra")
    save_plan(redis_client, plan_of("c2", "o3"), "rb")
    set_pin(redis_client, "o4", "c1")
    set_pin(redis_client, "o3", "c2")
    assert release_courier(redis_client, "c1", reason="off") == ["o1", "o2", "o4"]
    assert pins(redis_client) == {"o3": "c2"}
    plans = region_plans(redis_client)
    assert plans["ra"].routes == () and plans["ra"].version == 3
    assert dict(plans["ra"].unassigned) == {"o9": "no courier", "o1": "off", "o2": "off"}
    assert dict(plans["ra"].late_orders) == {}
    assert [r.courier_id for r in plans["rb"].routes] == ["c2"] and plans["rb"].version == 2
    assert release_courier(redis_client, "nobody", reason="off") == []
