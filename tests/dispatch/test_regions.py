"""Dispatch regions: two workers share the regions through leases, never plan one twice, and
one takes over the other's regions soon after it dies."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import regions
from dispatch.planner import CourierState, OpenOrder
from dispatch.settings import Settings
from dispatch.storage.leases import holder
from dispatch.storage.plans import current_plan
from dispatch.worker import replan_once, run, worker_client
from geo.travel import StraightLineTravel
from tests.web.test_orders_api import order_body
from web.services import catalogue_index

RESOLUTION = 4  # cells of ~1,800 km²: Taichung and Zhubei fall in different ones
TAICHUNG, ZHUBEI = (24.1846, 120.6040), (24.8310, 121.0160)
LEASE_S = 2.0


def test_region_of_a_place() -> None:
    assert regions.region_of(*TAICHUNG, None) == regions.ALL
    assert regions.region_of(*TAICHUNG, RESOLUTION) != regions.region_of(*ZHUBEI, RESOLUTION)


def _courier(shop: FlaskClient, courier_id: str, home: tuple[float, float]) -> None:
    now = datetime.now(UTC)  # the workers plan at the real time
    body = {"id": courier_id, "name": courier_id, "vehicle": "scooter", "capacity": 3,
            "shift_start": (now - timedelta(hours=1)).isoformat(),
            "shift_end": (now + timedelta(hours=6)).isoformat(),
            "home": {"lat": home[0], "lng": home[1]}}  # fmt: skip
    assert shop.post("/api/v1/couriers", json=body).status_code == 201


def _place(shop: FlaskClient, external_id: str, at: tuple[float, float]) -> str:
    response = shop.post("/api/v1/orders", json=order_body(external_id, lat=at[0], lng=at[1]))
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["order"]["id"])


def _plan_with(client: redis.Redis, ids: set[str], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    plan: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stored = current_plan(client)
        plan = stored.to_record() if stored else {"routes": []}
        if ids <= {s["order_id"] for r in plan["routes"] for s in r["stops"]}:
            return plan
        time.sleep(0.2)
    raise AssertionError(f"not planned in time: {plan}")


def test_two_workers_share_regions_and_take_over(
    shop: FlaskClient, app: Flask, redis_client: redis.Redis, settings: Settings
) -> None:
    _courier(shop, "t1", TAICHUNG)
    _courier(shop, "z1", ZHUBEI)
    ids = {_place(shop, f"T-{i}", (TAICHUNG[0] + 0.001 * i, TAICHUNG[1])) for i in range(3)}
    ids |= {_place(shop, f"Z-{i}", (ZHUBEI[0] + 0.001 * i, ZHUBEI[1])) for i in range(3)}
    stops = {name: threading.Event() for name in ("w1", "w2")}
    failures: list[BaseException] = []

    def work(name: str) -> None:
        try:
            client = worker_client(replace(settings, replan_s=0.5))
            run(client, travel=StraightLineTravel(), interval_s=0.5, time_limit_s=0.2, margin_s=0,
                worker_id=name, resolution=RESOLUTION, lease_s=LEASE_S,
                stop=stops[name])  # fmt: skip
        except BaseException as exc:
            failures.append(exc)

    with app.app_context():
        threads = {name: threading.Thread(target=work, args=(name,), daemon=True) for name in stops}
        for thread in threads.values():
            thread.start()
        try:
            plan = _plan_with(redis_client, ids)
            taichung = regions.region_of(*TAICHUNG, RESOLUTION)
            zhubei = regions.region_of(*ZHUBEI, RESOLUTION)
            assert set(plan["regions"]) == {taichung, zhubei}
            holders = {r: holder(redis_client, r) for r in (taichung, zhubei)}
            assert set(holders.values()) <= {"w1", "w2"}
            for _ in range(10):  # a region's plans come from its lease holder only
                stored = current_plan(redis_client)
                plan = stored.to_record() if stored else {}
                for region, written in plan["regions"].items():
                    assert written["planned_by"] == holders[region]
                time.sleep(0.2)
            visits = Counter((s["order_id"], s["kind"]) for r in plan["routes"] for s in r["stops"])
            assert set(visits.values()) == {1}, "an order was planned twice"

            # the holder of Taichung dies without a word; its lease runs out, the other takes over
            dead = holders[taichung]
            survivor = "w2" if dead == "w1" else "w1"
            stops[dead].set()
            threads[dead].join(timeout=10)
            deadline = time.monotonic() + LEASE_S + 8
            while time.monotonic() < deadline and holder(redis_client, taichung) != survivor:
                time.sleep(0.2)
            assert holder(redis_client, taichung) == survivor
            late = _place(shop, "T-late", TAICHUNG)
            plan = _plan_with(redis_client, ids | {late})
            assert plan["regions"][taichung]["planned_by"] == survivor
            visits = Counter((s["order_id"], s["kind"]) for r in plan["routes"] for s in r["stops"])
            assert set(visits.values()) == {1}
        finally:
            for event in stops.values():
                event.set()
            for thread in threads.values():
                thread.join(timeout=10)
    assert failures == []


def test_a_pinned_order_is_planned_in_its_couriers_region() -> None:
    """Pinned to a courier in another region: the order goes there, like an order on board."""
    now = datetime(2026, 11, 18, 4, 0, tzinfo=UTC)
    courier = CourierState("z", ZHUBEI, "car", 2, now + timedelta(hours=4))
    pinned = OpenOrder("p", TAICHUNG, TAICHUNG, now, now + timedelta(hours=1), pinned_to="z")
    free = replace(pinned, id="f", pinned_to=None)
    groups = regions.by_region([pinned, free], [courier], RESOLUTION)
    zhubei = regions.region_of(*ZHUBEI, RESOLUTION)
    taichung = regions.region_of(*TAICHUNG, RESOLUTION)
    assert [o.id for o in groups[zhubei][0]] == ["p"] and groups[zhubei][1] == [courier]
    assert [o.id for o in groups[taichung][0]] == ["f"] and groups[taichung][1] == []


def test_an_order_in_a_region_without_couriers_says_so(
    shop: FlaskClient, app: Flask, redis_client: redis.Redis
) -> None:
    """Couriers on shift only in another region: the reason names the region, not "no courier"."""
    _courier(shop, "z1", ZHUBEI)
    order_id = _place(shop, "T-alone", TAICHUNG)
    with app.app_context():
        plan = replan_once(redis_client, store_of=catalogue_index().get,
                           travel=StraightLineTravel(), now=datetime.now(UTC), time_limit_s=0.2,
                           resolution=RESOLUTION)  # fmt: skip
    assert plan is not None
    taichung = regions.region_of(*TAICHUNG, RESOLUTION)
    assert plan.unassigned[order_id] == (
        f"no courier on shift in its dispatch region {taichung} (1 on shift in other regions)"
    )


PLACES = st.tuples(st.floats(22.0, 25.3), st.floats(120.0, 121.9))


@settings(max_examples=60, deadline=None)
@given(st.lists(PLACES, min_size=0, max_size=5), st.lists(st.tuples(PLACES, st.integers(0, 6)),
       max_size=12), st.sampled_from([None, 3, RESOLUTION]))  # fmt: skip
def test_every_order_and_courier_falls_in_exactly_one_region(
    couriers_at: list[tuple[float, float]], orders_at: list[tuple[tuple[float, float], int]],
    resolution: int | None,
) -> None:  # fmt: skip
    """Couriers in the region where they are, orders where their store is, except an order on
    board or pinned (owner index below the couriers' count), which goes with its courier."""
    now = datetime(2026, 11, 18, 4, 0, tzinfo=UTC)
    couriers = [CourierState(f"c{i}", at, "car", 3, now + timedelta(hours=4))
                for i, at in enumerate(couriers_at)]  # fmt: skip
    orders = []
    for i, (at, owner) in enumerate(orders_at):
        mine = f"c{owner}" if owner < len(couriers) else None
        orders.append(OpenOrder(f"o{i}", at, at, now, now + timedelta(hours=1),
                                picked_up_by=mine if i % 2 else None,
                                pinned_to=None if i % 2 else mine))  # fmt: skip
    groups = regions.by_region(orders, couriers, resolution)
    placed = Counter(o.id for group_orders, _ in groups.values() for o in group_orders)
    assert placed == Counter(o.id for o in orders)
    seated = Counter(c.id for _, group_couriers in groups.values() for c in group_couriers)
    assert seated == Counter(c.id for c in couriers)
    where = {c.id: region for region, (_, cs) in groups.items() for c in cs}
    for region, (group_orders, group_couriers) in groups.items():
        assert all(regions.region_of(*c.position, resolution) == region for c in group_couriers)
        for order in group_orders:
            owner = order.picked_up_by or order.pinned_to
            assert region == (
                where[owner] if owner else regions.region_of(*order.store, resolution)
            )
    if resolution is None:
        assert set(groups) <= {regions.ALL}
