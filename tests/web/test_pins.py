"""Pins: a dispatcher's manual assignment, refused with the reason when no plan could keep it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.storage.pins import pins
from tests.conftest import FIXED_NOW
from tests.web.conftest import courier_body


def pin(shop: FlaskClient, order_id: str, body: dict[str, Any]) -> Any:
    return shop.put(f"/api/v1/dispatch/pins/{order_id}", json=body)


@pytest.mark.parametrize(
    ("courier", "reason"),
    [
        ({"shift_start": (FIXED_NOW + timedelta(hours=2)).isoformat(),
          "shift_end": (FIXED_NOW + timedelta(hours=6)).isoformat()}, "off_shift"),
        ({"shift_end": (FIXED_NOW + timedelta(minutes=3)).isoformat()}, "after_shift"),
        ({"vehicle": "walk", "home": {"lat": 24.23, "lng": 120.65}}, "late"),
    ],
)  # fmt: skip
def test_a_pin_no_plan_could_keep_is_refused_with_the_reason(
    day: tuple[FlaskClient, list[str]], redis_client: redis.Redis, courier: dict[str, Any],
    reason: str,
) -> None:  # fmt: skip
    """Off shift, done before it could deliver, or late: a 422 naming why, and no pin written."""
    shop, ids = day
    assert shop.post("/api/v1/couriers", json=courier_body("x", **courier)).status_code == 201
    response = pin(shop, ids[0], {"courier_id": "x"})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "pin_infeasible"
    assert error["details"]["reason"] == reason and error["details"]["courier_id"] == "x"
    assert "x" in error["message"]
    assert pins(redis_client) == {}
    if "earliest_delivery" in error["details"]:  # clock times as the page shows them: Taipei's
        earliest = datetime.fromisoformat(error["details"]["earliest_delivery"])
        local = earliest.astimezone(ZoneInfo("Asia/Taipei"))
        assert f"deliver at {local:%H:%M} Asia/Taipei" in error["message"]
        assert "UTC" not in error["message"]


def test_a_late_pin_is_taken_when_allowed_and_planned_late(
    day: tuple[FlaskClient, list[str]],
) -> None:
    """allow_late: the dispatcher's word; the plan keeps the pin and reports the lateness."""
    shop, ids = day
    walker = courier_body("slow", vehicle="walk", home={"lat": 24.23, "lng": 120.65})
    assert shop.post("/api/v1/couriers", json=walker).status_code == 201
    refused = pin(shop, ids[0], {"courier_id": "slow"}).get_json()["error"]["details"]
    assert pin(shop, ids[0], {"courier_id": "slow", "allow_late": True}).status_code == 200
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    route = next(r for r in plan["routes"] if r["courier_id"] == "slow")
    assert {s["order_id"] for s in route["stops"]} == {ids[0]}
    assert plan["late_orders"][ids[0]] > 0
    delivery = next(s for s in route["stops"] if s["kind"] == "delivery")
    assert delivery["start_at"] >= refused["earliest_delivery"]


def test_an_order_on_board_cannot_be_pinned_to_another(day: tuple[FlaskClient, list[str]]) -> None:
    """Picked up by one courier: another cannot be given it; its own courier can."""
    shop, ids = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    carrier = next(r["courier_id"] for r in plan["routes"]
                   for s in r["stops"] if s["order_id"] == ids[1])  # fmt: skip
    for status in ("preparing", "ready", "picked_up"):
        shop.post(f"/api/v1/orders/{ids[1]}/status", json={"status": status})
    other = next(c for c in ("c0", "c1", "c2") if c != carrier)
    response = pin(shop, ids[1], {"courier_id": other})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert details["reason"] == "on_board_other" and details["carried_by"] == carrier
    assert pin(shop, ids[1], {"courier_id": carrier}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "courier_id"), ({"courier_id": ""}, "courier_id"), ({"courier_id": 7}, "courier_id"),
     ({"courier_id": "c0", "allow_late": "yes"}, "allow_late")],
)  # fmt: skip
def test_a_pin_without_a_courier_names_the_field(
    day: tuple[FlaskClient, list[str]], body: dict[str, Any], field: str
) -> None:
    """A missing or malformed field is a 400 naming it, not a 404 for a courier ''."""
    shop, ids = day
    response = pin(shop, ids[0], body)
    assert response.status_code == 400
    assert list(response.get_json()["error"]["details"]["fields"]) == [field]


def test_unpinning_what_is_not_pinned_is_a_404(day: tuple[FlaskClient, list[str]]) -> None:
    """DELETE answers 200 once for a pin, then 404 pin_not_found, as for an unknown order."""
    shop, ids = day
    assert pin(shop, ids[0], {"courier_id": "c1"}).status_code == 200
    assert shop.delete(f"/api/v1/dispatch/pins/{ids[0]}").status_code == 200
    for order_id in (ids[0], "nope"):
        again = shop.delete(f"/api/v1/dispatch/pins/{order_id}")
        assert again.status_code == 404
        assert again.get_json()["error"]["code"] == "pin_not_found"


def test_a_bad_pin_body_is_named_before_the_order_is_looked_up(shop: FlaskClient) -> None:
    """{} for an order that does not exist: a 400 naming courier_id (it was a 404 for the
    order, hiding what the body lacked); a good body for it is then the 404."""
    response = shop.put("/api/v1/dispatch/pins/nope", json={})
    assert response.status_code == 400
    assert list(response.get_json()["error"]["details"]["fields"]) == ["courier_id"]
    missing = shop.put("/api/v1/dispatch/pins/nope", json={"courier_id": "c0"})
    assert missing.status_code == 404
