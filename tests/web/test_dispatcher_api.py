"""Couriers, the plan (JSON and GeoJSON), re-planning, pins and the worker's safety net."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch.settings import Settings
from dispatch.storage.plans import current_plan
from dispatch.worker import replan_once, run, worker_client
from geo.travel import StraightLineTravel
from tests.conftest import FIXED_NOW
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body, place
from web.services import catalogue_index


def stops_of(plan: dict[str, Any], order_id: str) -> list[tuple[str, str]]:
    return [(r["courier_id"], s["kind"]) for r in plan["routes"] for s in r["stops"]
            if s["order_id"] == order_id]  # fmt: skip


def test_replan_assigns_every_order_once(day: tuple[FlaskClient, list[str]]) -> None:
    """Each order: one pickup then one delivery, same courier, on time, nothing unassigned."""
    shop, ids = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    assert plan["unassigned"] == {} and plan["late_orders"] == {}
    for order_id in ids:
        visits = stops_of(plan, order_id)
        assert [kind for _, kind in visits] == ["pickup", "delivery"]
        assert visits[0][0] == visits[1][0]
    assert shop.get("/api/v1/dispatch/plan").get_json()["plan"]["version"] == plan["version"]


def test_geojson_has_a_line_per_busy_courier(day: tuple[FlaskClient, list[str]]) -> None:
    """One LineString per route with stops, in [lng, lat] order, starting at the courier."""
    shop, _ = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    response = shop.get("/api/v1/dispatch/plan.geojson")
    assert response.mimetype == "application/geo+json"
    features = response.get_json()["features"]
    busy = [r for r in plan["routes"] if r["stops"]]
    assert len(features) == len(busy)
    for feature in features:
        line = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "LineString"
        assert line[0] == [120.602, 24.184]  # the courier's home: no ping yet
        assert len(line) == feature["properties"]["stops"] + 1


def test_pins_are_kept_by_every_replan(day: tuple[FlaskClient, list[str]]) -> None:
    """A dispatcher's reassignment holds until unpinned."""
    shop, ids = day
    target = ids[0]
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    current = stops_of(plan, target)[0][0]
    other = next(c for c in ("c0", "c1", "c2") if c != current)
    assert (
        shop.put(f"/api/v1/dispatch/pins/{target}", json={"courier_id": other}).status_code == 200
    )
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    assert {courier for courier, _ in stops_of(plan, target)} == {other}
    assert shop.delete(f"/api/v1/dispatch/pins/{target}").status_code == 200


def test_picked_up_orders_stay_with_their_courier(day: tuple[FlaskClient, list[str]]) -> None:
    """After pick-up only the delivery is planned, by the courier who has the goods."""
    shop, ids = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    carrier = stops_of(plan, ids[1])[0][0]
    for status in ("preparing", "ready", "picked_up"):
        shop.post(f"/api/v1/orders/{ids[1]}/status", json={"status": status})
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    assert stops_of(plan, ids[1]) == [(carrier, "delivery")]
    shop.post(f"/api/v1/orders/{ids[1]}/status", json={"status": "delivered"})
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    assert stops_of(plan, ids[1]) == []


def test_a_failed_replan_keeps_the_last_good_plan(
    app: Flask, day: tuple[FlaskClient, list[str]], redis_client: redis.Redis
) -> None:
    """The planner blowing up leaves the stored plan and its version untouched."""
    shop, _ = day
    good = shop.post("/api/v1/dispatch/replan").get_json()["plan"]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver crashed")

    with app.app_context():
        index = app.extensions["catalogue"].index()
    result = replan_once(redis_client, store_of=index.get, travel=StraightLineTravel(),
                         now=FIXED_NOW, time_limit_s=1, planner=broken)  # fmt: skip
    assert result is None
    assert current_plan(redis_client).to_record() == good  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vehicle": "rocket"}, "vehicle"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"shift_start": "soon"}, "shift_start"),
        ({"shift_end": FIXED_NOW.isoformat(), "shift_start": FIXED_NOW.isoformat()}, "shift_end"),
        ({"home": {"lat": 95, "lng": 0}}, "home"),
        ({"id": ""}, "id"),
    ],
)
def test_bad_courier_registrations(shop: FlaskClient, changes: dict[str, Any], field: str) -> None:
    """Each bad field is named in a 400."""
    response = shop.post("/api/v1/couriers", json=courier_body("x", **changes))
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]


def test_dispatch_errors(day: tuple[FlaskClient, list[str]]) -> None:
    """Unknown orders and couriers are 404s, a finished order cannot be pinned, pings checked."""
    shop, ids = day
    assert shop.put("/api/v1/dispatch/pins/nope", json={"courier_id": "c0"}).status_code == 404
    assert shop.put(f"/api/v1/dispatch/pins/{ids[0]}", json={"courier_id": "zz"}).status_code == 404
    shop.post(f"/api/v1/orders/{ids[2]}/cancel")
    assert shop.put(f"/api/v1/dispatch/pins/{ids[2]}", json={"courier_id": "c0"}).status_code == 409
    assert shop.post("/api/v1/couriers/zz/position", json={"lat": 1, "lng": 1}).status_code == 404
    bad = shop.post("/api/v1/couriers/c0/position", json={"lat": 91, "lng": 1})
    assert bad.status_code == 400 and list(bad.get_json()["error"]["details"]["fields"]) == ["lat"]
    moved = shop.post("/api/v1/couriers/c0/position", json={"lat": 24.19, "lng": 120.61})
    assert moved.status_code == 200
    listed = shop.get("/api/v1/couriers").get_json()["couriers"]
    assert next(c for c in listed if c["id"] == "c0")["position"]["lat"] == 24.19


def test_the_worker_replans_when_orders_arrive(
    day: tuple[FlaskClient, list[str]], app: Flask, settings: Settings
) -> None:
    """The worker loop, waiting longer than a Redis read's default timeout, plans new orders."""
    shop, ids = day
    stop = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            client = worker_client(replace(settings, replan_s=6.0))
            run(client, travel=StraightLineTravel(), interval_s=6.0, time_limit_s=0.3, margin_s=0,
                stop=stop)  # fmt: skip
        except BaseException as exc:  # the test reports it
            failures.append(exc)

    with app.app_context():
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        time.sleep(6.5)  # one idle wait longer than redis-py's 5 s default read timeout
        place(shop, order_body("W-1", lat=24.183, lng=120.604))
        deadline = time.monotonic() + 10
        planned: set[str] = set()
        while time.monotonic() < deadline and len(planned) < len(ids) + 1:
            plan = shop.get("/api/v1/dispatch/plan").get_json()["plan"] or {"routes": []}
            # the worker plans at the real time, when these couriers' shifts may be over:
            # every order is then either in a route or unassigned with a reason
            planned = {s["order_id"] for r in plan["routes"] for s in r["stops"]}
            planned |= set(plan.get("unassigned", {}))
            time.sleep(0.2)
        stop.set()
        thread.join(timeout=10)
    assert failures == []
    assert len(planned) == len(ids) + 1


def test_a_courier_past_their_shift_is_planned_to_deliver_what_they_carry(
    day: tuple[FlaskClient, list[str]], app: Flask, redis_client: redis.Redis
) -> None:
    """After the shift, goods still on board are planned with their courier, nothing new is."""
    shop, ids = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    carrier = stops_of(plan, ids[1])[0][0]
    for status in ("preparing", "ready", "picked_up"):
        shop.post(f"/api/v1/orders/{ids[1]}/status", json={"status": status})
    shift_end = datetime.fromisoformat(courier_body(carrier)["shift_end"])
    with app.app_context():
        later = replan_once(redis_client, store_of=catalogue_index().get,
                            travel=StraightLineTravel(), now=shift_end + timedelta(minutes=10),
                            time_limit_s=0.3)  # fmt: skip
    assert later is not None
    assert stops_of(later.to_record(), ids[1]) == [(carrier, "delivery")]
    route = next(r for r in later.to_record()["routes"] if r["courier_id"] == carrier)
    assert {s["order_id"] for s in route["stops"]} == {ids[1]}
