"""Running the fleet over HTTP: list and fetch couriers, deactivate and reactivate, shifts on
other days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.settings import PROJECT_ROOT
from dispatch.storage.couriers import load_courier, load_couriers
from dispatch.storage.pins import pins
from dispatch.storage.snapshot import snapshot
from tests.conftest import FIXED_NOW, bearer, token_for
from tests.web.conftest import courier_body

HOUR = timedelta(hours=1)
DEMO_COURIERS = PROJECT_ROOT / "data" / "demo_couriers.csv"


def courier_routes(plan: dict[str, Any]) -> dict[str, set[str]]:
    return {
        r["courier_id"]: {s["order_id"] for s in r["stops"]} for r in plan["routes"] if r["stops"]
    }


def test_list_filter_and_fetch(shop: FlaskClient, redis_client: redis.Redis) -> None:
    for k in range(3):
        assert shop.post("/api/v1/couriers", json=courier_body(f"c{k}")).status_code == 201
    assert shop.post("/api/v1/couriers/c1/deactivate", json={}).status_code == 200
    everyone = shop.get("/api/v1/couriers").get_json()
    assert [c["id"] for c in everyone["couriers"]] == ["c0", "c1", "c2"]
    active = shop.get("/api/v1/couriers", query_string={"active": "true"}).get_json()
    assert [c["id"] for c in active["couriers"]] == ["c0", "c2"] and active["count"] == 2
    gone = shop.get("/api/v1/couriers", query_string={"active": "false"}).get_json()
    assert [c["id"] for c in gone["couriers"]] == ["c1"]
    bad = shop.get("/api/v1/couriers", query_string={"active": "maybe"})
    assert bad.status_code == 400 and "active" in bad.get_json()["error"]["details"]["fields"]
    one = shop.get("/api/v1/couriers/c1").get_json()["courier"]
    assert one["active"] is False and one["deactivated_at"] == FIXED_NOW.isoformat()
    assert shop.get("/api/v1/couriers/nobody").status_code == 404
    # a courier sees itself, not the others, and cannot list the fleet
    mine = bearer(token_for(redis_client, "courier", "c0"))
    assert shop.get("/api/v1/couriers/c0", headers=mine).get_json()["courier"]["id"] == "c0"
    assert shop.get("/api/v1/couriers/c2", headers=mine).status_code == 404
    assert shop.get("/api/v1/couriers", headers=mine).status_code == 403
    shopper = bearer(token_for(redis_client, "shopper", "u1"))
    assert shop.get("/api/v1/couriers/c0", headers=shopper).status_code == 403


def test_deactivating_hands_the_couriers_orders_to_the_others(
    day: tuple[FlaskClient, list[str]], redis_client: redis.Redis
) -> None:
    """Its planned and pinned orders go back to unassigned at once, the next plan gives them
    to others, it is never planned again and its phone gets a 403; reactivated, it is back."""
    shop, ids = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    busy = max(courier_routes(plan).items(), key=lambda item: len(item[1]))
    leaving, theirs = busy[0], busy[1]
    pinned = sorted(theirs)[0]
    assert (
        shop.put(f"/api/v1/dispatch/pins/{pinned}", json={"courier_id": leaving}).status_code == 200
    )
    phone = bearer(token_for(redis_client, "courier", leaving))
    answer = shop.post(f"/api/v1/couriers/{leaving}/deactivate", json={"reason": "moved away"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["changed"] is True and set(body["released"]) == theirs
    assert body["courier"]["deactivation_reason"] == "moved away"
    in_force = shop.get("/api/v1/dispatch/plan").get_json()["plan"]
    assert leaving not in courier_routes(in_force)
    assert theirs <= set(in_force["unassigned"])
    assert pinned not in pins(redis_client)
    replanned = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    routes = courier_routes(replanned)
    assert leaving not in routes
    assert set().union(*routes.values()) == set(ids)  # nobody's order is dropped
    _, couriers, _ = snapshot(redis_client, store_of=lambda _: None, now=FIXED_NOW)
    assert leaving not in {c.id for c in couriers}
    for call in (
        shop.get("/api/v1/courier/legs", headers=phone),
        shop.post(
            "/api/v1/courier/pings",
            headers=phone,
            json={"pings": [{"lat": 24.18, "lng": 120.6, "at": FIXED_NOW.isoformat()}]},
        ),
        shop.post(
            "/api/v1/courier/events",
            headers=phone,
            json={"event_id": "e1", "order_id": pinned, "type": "arrived"},
        ),
    ):
        assert call.status_code == 403 and call.get_json()["error"]["code"] == "courier_inactive"
    refused = shop.put(f"/api/v1/dispatch/pins/{pinned}", json={"courier_id": leaving})
    assert (
        refused.status_code == 422
        and refused.get_json()["error"]["details"]["reason"] == "inactive"
    )
    again = shop.post(f"/api/v1/couriers/{leaving}/deactivate", json={})
    assert again.status_code == 200 and again.get_json()["changed"] is False
    # re-registering does not bring it back; reactivating does
    assert (
        shop.post("/api/v1/couriers", json=courier_body(leaving)).get_json()["courier"]["active"]
        is False
    )
    back = shop.post(f"/api/v1/couriers/{leaving}/reactivate")
    assert back.status_code == 200 and back.get_json()["courier"]["active"] is True
    assert shop.get("/api/v1/courier/legs", headers=phone).status_code == 200
    _, couriers, _ = snapshot(redis_client, store_of=lambda _: None, now=FIXED_NOW)
    assert leaving in {c.id for c in couriers}


def test_a_courier_with_goods_on_board_cannot_be_deactivated(
    day: tuple[FlaskClient, list[str]], redis_client: redis.Redis
) -> None:
    shop, _ = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    courier_id, orders = next(iter(courier_routes(plan).items()))
    order_id = sorted(orders)[0]
    phone = bearer(token_for(redis_client, "courier", courier_id))
    picked = shop.post(
        "/api/v1/courier/events",
        headers=phone,
        json={"event_id": "p1", "order_id": order_id, "type": "picked_up"},
    )
    assert picked.status_code == 200
    refused = shop.post(f"/api/v1/couriers/{courier_id}/deactivate", json={})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "courier_carrying" and error["details"]["order_ids"] == [order_id]
    assert shop.get(f"/api/v1/couriers/{courier_id}").get_json()["courier"]["active"] is True


def test_shifts_for_another_day(shop: FlaskClient, redis_client: redis.Redis) -> None:
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    start = FIXED_NOW + 20 * HOUR
    made = shop.post(
        "/api/v1/couriers/c1/shifts",
        json={"start": start.isoformat(), "end": (start + 8 * HOUR).isoformat()},
    )
    assert made.status_code == 201, made.get_json()
    shift_id = made.get_json()["shift"]["id"]
    assert [s["id"] for s in made.get_json()["shifts"]] == ["20261121T1800Z", shift_id]
    clash = shop.post(
        "/api/v1/couriers/c1/shifts",
        json={"start": (start + HOUR).isoformat(), "end": (start + 2 * HOUR).isoformat()},
    )
    assert clash.status_code == 409
    assert clash.get_json()["error"]["details"]["shift_id"] == shift_id
    # the planner takes the courier in tomorrow's shift
    _, couriers, _ = snapshot(redis_client, store_of=lambda _: None, now=start + HOUR)
    assert [(c.id, c.shift_end) for c in couriers] == [("c1", start + 8 * HOUR)]
    # re-registering today's shift keeps tomorrow's
    assert shop.post("/api/v1/couriers", json=courier_body("c1", capacity=4)).status_code == 201
    kept = shop.get("/api/v1/couriers/c1").get_json()["courier"]["shifts"]
    assert [s["id"] for s in kept] == ["20261121T1800Z", shift_id]
    registered = shop.delete("/api/v1/couriers/c1/shifts/20261121T1800Z")
    assert registered.status_code == 409
    assert registered.get_json()["error"]["code"] == "registered_shift"
    removed = shop.delete(f"/api/v1/couriers/c1/shifts/{shift_id}")
    assert removed.status_code == 200 and len(removed.get_json()["shifts"]) == 1
    assert shop.delete(f"/api/v1/couriers/c1/shifts/{shift_id}").status_code == 404
    assert (
        shop.post(
            "/api/v1/couriers/ghost/shifts",
            json={"start": start.isoformat(), "end": (start + HOUR).isoformat()},
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("offsets", "field"),
    [
        ((20, 19), "end"),
        ((20, 40), "end"),
        ((-10, -5), "end"),
        ((24 * 15, 24 * 15 + 1), "start"),
        ((None, 5), "start"),
        ((5, None), "end"),
    ],
)
def test_bad_shifts_are_named(
    shop: FlaskClient, offsets: tuple[int | None, int | None], field: str
) -> None:
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    body = {
        name: (FIXED_NOW + hours * HOUR).isoformat()
        for name, hours in zip(("start", "end"), offsets, strict=True)
        if hours is not None
    }
    response = shop.post("/api/v1/couriers/c1/shifts", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]
    extra = shop.post("/api/v1/couriers/c1/shifts", json=body | {"day": "monday"})
    assert "day" in extra.get_json()["error"]["details"]["fields"]


def test_fleet_changes_are_staff_only(shop: FlaskClient, redis_client: redis.Redis) -> None:
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    phone = bearer(token_for(redis_client, "courier", "c1"))
    for path in ("deactivate", "reactivate", "shifts"):
        assert shop.post(f"/api/v1/couriers/c1/{path}", json={}, headers=phone).status_code == 403
    bad = shop.post("/api/v1/couriers/c1/deactivate", json={"reason": 7})
    assert bad.status_code == 400 and "reason" in bad.get_json()["error"]["details"]["fields"]
    assert shop.get("/api/v1/couriers/c1").get_json()["courier"]["active"] is True


def test_importing_the_demo_fleet_again_keeps_a_deactivated_courier_out(
    app: Any, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """scripts/run imports the demo couriers at every start: that must not bring one back."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["couriers", "import", str(DEMO_COURIERS)]).exit_code == 0
    first = load_couriers(redis_client)[0].id
    assert shop.post(f"/api/v1/couriers/{first}/deactivate", json={}).status_code == 200
    assert runner.invoke(args=["couriers", "import", str(DEMO_COURIERS)]).exit_code == 0
    assert load_courier(redis_client, first).active is False  # type: ignore[union-attr]
