"""Age-restricted items (the courier checks the buyer's ID at the door) and what a courier's
leg tells about the order: its note, items and the shopper's phone, masked."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from dispatch.storage import orders as stored_orders
from tests.conftest import bearer, keyspace, token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body, place
from web.courier import masked_contact

BEER = {"sku": "beer-330ml", "qty": 2}


@pytest.fixture
def beer_run(shop: FlaskClient, redis_client: redis.Redis) -> dict[str, Any]:
    """A beer order with a note and a phone, planned, and picked up by its courier."""
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    body = order_body(
        "B-1",
        items=[BEER, {"sku": "water-600ml", "qty": 1}],
        note="ring twice",
        contact="0912-345-678",
    )
    placed = place(shop, body)
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()["order"]
    assert order["contact"] == "0912-345-678"  # staff and the shopper see it whole
    assert shop.post("/api/v1/dispatch/replan").status_code == 200
    phone = bearer(token_for(redis_client, "courier", "c1"))
    legs = shop.get("/api/v1/courier/legs", headers=phone).get_json()["legs"]
    return {"shop": shop, "order": order, "phone": phone, "legs": legs}


def event(run: dict[str, Any], **body: Any) -> Any:
    body = {"order_id": run["order"]["id"]} | body
    return run["shop"].post("/api/v1/courier/events", headers=run["phone"], json=body)


def test_products_say_which_are_age_restricted(shop: FlaskClient) -> None:
    products = {p["sku"]: p for p in shop.get("/api/v1/products").get_json()["products"]}
    restricted = {sku for sku, p in products.items() if p["age_restricted"]}
    assert restricted == {"beer-330ml", "cigarettes-20"}
    assert {products[sku]["category"] for sku in restricted} == {"alcohol", "tobacco"}


def test_the_leg_carries_note_items_masked_phone_and_the_id_check(
    beer_run: dict[str, Any],
) -> None:
    legs = beer_run["legs"]
    assert [leg["kind"] for leg in legs] == ["pickup", "delivery"]
    for leg in legs:
        assert leg["note"] == "ring twice"
        assert leg["contact"] == "09xx-xxx-678"
        assert leg["id_check_required"] is True
        flags = {item["sku"]: item["age_restricted"] for item in leg["items"]}
        assert flags == {"beer-330ml": True, "water-600ml": False}
        assert "0912" not in str(leg) and "345" not in str(leg)


def test_no_delivery_without_the_id_check(beer_run: dict[str, Any]) -> None:
    run = beer_run
    assert event(run, event_id="p", type="picked_up").status_code == 200
    for extra in ({}, {"id_checked": False}):
        refused = event(
            run, event_id="d1", type="delivered", proof={"photo_ref": "door.jpg"}, **extra
        )
        assert refused.status_code == 422, refused.get_json()
        error = refused.get_json()["error"]
        assert error["code"] == "id_check_required" and error["details"]["field"] == "id_checked"
    odd = event(run, event_id="d2", type="delivered", proof={"photo_ref": "d.jpg"}, id_checked="y")
    assert odd.status_code == 400 and "id_checked" in odd.get_json()["error"]["details"]["fields"]
    order = run["shop"].get(f"/api/v1/orders/{run['order']['id']}").get_json()["order"]
    assert order["status"] == "picked_up"  # nothing was written
    done = event(
        run, event_id="d3", type="delivered", proof={"photo_ref": "d.jpg"}, id_checked=True
    )
    assert done.status_code == 200 and done.get_json()["status"] == "delivered"
    order = run["shop"].get(f"/api/v1/orders/{run['order']['id']}").get_json()["order"]
    assert order["events"][-1]["note"].endswith("ID checked")


def test_a_failed_id_check_returns_the_goods(
    beer_run: dict[str, Any], redis_client: redis.Redis
) -> None:
    run = beer_run
    store_id = run["order"]["store_id"]
    assert event(run, event_id="p", type="picked_up").status_code == 200
    before = stored_orders.stock_levels(redis_client, keyspace(store_id))
    failed = event(run, event_id="f", type="failed", id_checked=False)
    assert failed.status_code == 200, failed.get_json()
    answer = failed.get_json()
    assert answer["status"] == "failed" and answer["return_to"]["store_id"] == store_id
    after = stored_orders.stock_levels(redis_client, keyspace(store_id))
    assert after["beer-330ml"] == before["beer-330ml"] + 2
    assert after["water-600ml"] == before["water-600ml"] + 1
    order = run["shop"].get(f"/api/v1/orders/{run['order']['id']}").get_json()["order"]
    assert "ID check failed" in order["events"][-1]["note"]
    replay = event(run, event_id="f", type="failed", id_checked=False)
    assert replay.get_json()["replayed"] is True
    assert stored_orders.stock_levels(redis_client, keyspace(store_id)) == after  # given back once


def test_an_ordinary_failure_after_the_pick_up_keeps_the_stock_as_it_was(
    beer_run: dict[str, Any], redis_client: redis.Redis
) -> None:
    run = beer_run
    store_id = run["order"]["store_id"]
    assert event(run, event_id="p", type="picked_up").status_code == 200
    before = stored_orders.stock_levels(redis_client, keyspace(store_id))
    assert event(run, event_id="f", type="failed", reason="nobody home").status_code == 200
    assert stored_orders.stock_levels(redis_client, keyspace(store_id)) == before


@pytest.mark.parametrize("contact", ["12345", "call me", "0912345678901234567", "+", 912345678])
def test_a_bad_contact_is_named(shop: FlaskClient, contact: Any) -> None:
    response = place(shop, order_body("C-1", contact=contact))
    assert response.status_code == 400
    assert list(response.get_json()["error"]["details"]["fields"]) == ["contact"]


def test_the_couriers_leg_has_no_contact_when_the_order_has_none(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    assert place(shop, order_body("N-1")).status_code == 201
    assert shop.post("/api/v1/dispatch/replan").status_code == 200
    phone = bearer(token_for(redis_client, "courier", "c1"))
    legs = shop.get("/api/v1/courier/legs", headers=phone).get_json()["legs"]
    assert legs and all(leg["contact"] is None and not leg["id_check_required"] for leg in legs)


@given(st.from_regex(r"\+?[0-9]{6,15}", fullmatch=True))
def test_a_masked_phone_shows_at_most_five_digits_and_ends_as_the_number(number: str) -> None:
    masked = masked_contact(number)
    digits = re.sub(r"\D", "", number)
    shown = re.sub(r"\D", "", masked)
    assert shown == digits[:2] + digits[-3:]
    assert masked.count("x") == len(digits) - 5
    assert masked.startswith("+") == number.startswith("+")
