"""Order intake, idempotency, matching, stock reservation and the lifecycle, on a real Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch import idempotency, order_store
from dispatch.claim_wait import CLAIM_STALE_S
from dispatch.intake import body_hash
from dispatch.settings import Settings
from dispatch.storage import claims, order_keys
from dispatch.storage import orders as stored_orders
from geo.distance import haversine_m
from geo.stores import Store
from tests.conftest import FIXED_NOW, bearer, keyspace, make_app, token_for

FULIN = "osm-way-617553270"  # the demo 7-Eleven without fresh milk
NEAR_FULIN = {"lat": 24.18519, "lng": 120.61263}


def order_body(external_id: str = "A-1", **changes: Any) -> dict[str, Any]:
    body = {
        "channel": "app",
        "external_id": external_id,
        **NEAR_FULIN,
        "address": "福林路31巷 152號",
        "items": [{"sku": "water-600ml", "qty": 1}],
    }
    return body | changes


def place(shop: FlaskClient, body: dict[str, Any], **headers: str) -> Any:
    return shop.post("/api/v1/orders", json=body, headers=headers)


def test_order_goes_to_nearest_store_with_the_goods(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Milk ordered next to a 7-Eleven without milk goes to the next store that has it."""
    before = stored_orders.stock_levels(redis_client, keyspace(FULIN))
    response = place(shop, order_body(items=[{"sku": "fresh-milk-936ml", "qty": 1}]))
    assert response.status_code == 201, response.get_json()
    order = response.get_json()["order"]
    assert order["store_id"] != FULIN and order["status"] == "accepted"
    passed = {p["store_id"]: p for p in order["match"]["passed_over"]}
    assert passed[FULIN]["reasons"] == ["out_of_stock"]
    assert passed[FULIN]["missing_skus"] == ["fresh-milk-936ml"]
    created = datetime.fromisoformat(order["created_at"])
    assert (datetime.fromisoformat(order["promised_by"]) - created).total_seconds() == 3600
    assert order["total_cents"] == 9500
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN)) == before
    assert response.headers["Location"] == f"/api/v1/orders/{order['id']}"
    stream = redis_client.xrange(order_keys.ORDER_STREAM)
    assert [entry[1][b"order_id"].decode() for entry in stream] == [order["id"]]
    assert shop.get(f"/api/v1/orders/{order['id']}").get_json()["order"] == order


def test_stock_is_reserved_at_the_chosen_store(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """The chosen store's level drops by the quantity ordered, and only there."""
    body = order_body(items=[{"sku": "water-600ml", "qty": 2}])
    levels = {s: stored_orders.stock_levels(redis_client, keyspace(s)) for s in (FULIN,)}
    order = place(shop, body).get_json()["order"]
    store = order["store_id"]
    after = stored_orders.stock_levels(redis_client, keyspace(store))
    before = levels.get(store) or {}
    if before:
        assert after["water-600ml"] == before["water-600ml"] - 2
    assert after["water-600ml"] >= 0


def test_retries_are_idempotent(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """Same key and body: the same order, one reservation. Same key, other body: 409."""
    first = place(shop, order_body("R-1"), **{"Idempotency-Key": "k-1"})
    store = first.get_json()["order"]["store_id"]
    level = stored_orders.stock_levels(redis_client, keyspace(store))["water-600ml"]
    again = place(shop, order_body("R-1"), **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["order"]["id"] == first.get_json()["order"]["id"]
    by_channel_id = place(shop, order_body("R-1"))  # no header: channel + external_id match
    assert by_channel_id.get_json()["order"]["id"] == first.get_json()["order"]["id"]
    assert stored_orders.stock_levels(redis_client, keyspace(store))["water-600ml"] == level
    conflict = place(shop, order_body("R-2", note="different"), **{"Idempotency-Key": "k-1"})
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "idempotency_conflict"
    assert len(redis_client.xrange(order_keys.ORDER_STREAM)) == 1
    # the keys that make retries safe expire in 30 days rather than piling up for ever
    keys = idempotency.keys_for("app", "R-1", "k-1")
    assert all(25 * 86400 < int(redis_client.ttl(k)) <= 30 * 86400 for k in keys)  # type: ignore[arg-type]


def test_identical_requests_at_once_make_one_order(
    app: Flask, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Six copies of one channel order sent together: one order, and every copy names it."""

    def attempt(_: int) -> tuple[int, str]:
        response = place(app.test_client(), order_body("T-1"))
        return int(response.status_code), str(response.get_json()["order"]["id"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(6)))
    assert {code for code, _ in answers} == {201} and len({i for _, i in answers}) == 1
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 1


def test_a_claim_left_by_a_dead_process_is_taken_over_once_stale(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """A process that claimed a channel order id and died before placing the order: a retry
    waits for it, is told to come back while the claim is young, and places the order once the
    claim is stale."""
    body = order_body("Z-1")
    key = idempotency.keys_for("app", "Z-1", None)[0]
    young = idempotency.Claim("0123456789abcdef", body_hash(body), FIXED_NOW.timestamp() - 10)
    redis_client.set(key, young.text())
    waiting = place(shop, body)
    assert waiting.status_code == 409 and waiting.headers["Retry-After"] == "2"
    assert waiting.get_json()["error"]["code"] == "request_in_progress"
    stale = replace(young, claimed_at=FIXED_NOW.timestamp() - CLAIM_STALE_S - 1)
    redis_client.set(key, stale.text())
    placed = place(shop, body)
    assert placed.status_code == 201 and "Idempotent-Replayed" not in placed.headers
    held = claims.find_claim(redis_client, [key])
    assert held is not None and placed.get_json()["order"]["id"].endswith(held.ticket)
    assert place(shop, body).get_json()["order"]["id"] == placed.get_json()["order"]["id"]


def test_racing_for_the_last_unit_gives_one_order(
    app: Flask, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Eight shoppers, one umbrella in the whole city: exactly one order is accepted."""
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"umbrella": 0})
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1})
    body = {"items": [{"sku": "umbrella", "qty": 1}]}

    def attempt(i: int) -> int:
        return int(place(app.test_client(), order_body(f"U-{i}", **body)).status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(attempt, range(8)))
    assert sorted(codes) == [201] + [422] * 7
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["umbrella"] == 0


def test_refused_when_no_store_can(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """Nothing nearby, or nobody with stock: a 422 with each candidate's reasons, no trace."""
    far = place(shop, order_body("F-1", lat=60.17, lng=24.94))
    assert far.status_code == 422
    assert far.get_json()["error"]["code"] == "no_store_can_fulfil"
    assert far.get_json()["error"]["details"]["candidates"] == []
    too_many = place(shop, order_body("F-2", items=[{"sku": "umbrella", "qty": 99}]))
    candidates = too_many.get_json()["error"]["details"]["candidates"]
    assert candidates and all("out_of_stock" in c["reasons"] for c in candidates)
    assert not redis_client.exists("idem:channel:app:F-2")
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_body(channel="telegram"), "channel"),
        (order_body(external_id=""), "external_id"),
        (order_body(external_id=7), "external_id"),
        (order_body(lat=91), "lat"),
        (order_body(lat="24.1"), "lat"),
        (order_body(lng=True), "lng"),
        (order_body(lng=None), "lng"),
        (order_body(items=[]), "items"),
        (order_body(items="milk"), "items"),
        (order_body(items=[{"sku": "water-600ml", "qty": 0}]), "items[0].qty"),
        (order_body(items=[{"sku": "water-600ml", "qty": 1.5}]), "items[0].qty"),
        (order_body(items=[{"sku": "water-600ml", "qty": True}]), "items[0].qty"),
        (order_body(items=[{"qty": 1}]), "items[0].sku"),
        (order_body(items=[{"sku": "water-600ml", "qty": 1}] * 2), "items"),
        (order_body(items=[{"sku": f"s{i}", "qty": 1} for i in range(51)]), "items"),
        (order_body(coupon="FREE"), "coupon"),
        (order_body(items=[{"sku": "water-600ml", "qty": 1, "gift": True}]), "items[0].gift"),
        (order_body(items=["water-600ml"]), "items[0]"),
        (order_body(channel="store", store_id="../../x"), "store_id"),
        (order_body(note="x" * 501), "note"),
    ],
)
def test_bad_order_bodies_are_400_naming_the_field(
    shop: FlaskClient, redis_client: redis.Redis, body: dict[str, Any], field: str
) -> None:
    """Each bad field is named; nothing is written."""
    response = place(shop, body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ('{"lat": NaN}', "application/json", 400, "invalid_parameter"),
        ("x" * 40_000, "application/json", 413, "body_too_large"),
        ("lat=1", "application/x-www-form-urlencoded", 400, "malformed_json"),
    ],
)
def test_malformed_bodies(
    shop: FlaskClient, data: str, content_type: str, status: int, code: str
) -> None:
    """Broken JSON, the wrong shape, NaN and oversized bodies get JSON errors."""
    response = shop.post("/api/v1/orders", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_unknown_sku_is_422(shop: FlaskClient) -> None:
    """An item the platform does not sell is named."""
    response = place(shop, order_body(items=[{"sku": "caviar", "qty": 1}]))
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["skus"] == ["caviar"]


def test_lifecycle_and_illegal_moves(shop: FlaskClient) -> None:
    """The happy path is recorded with timestamps; illegal moves are 409s; a late counter step
    is acknowledged without change."""
    order_id = place(shop, order_body("L-1")).get_json()["order"]["id"]
    url = f"/api/v1/orders/{order_id}/status"
    for status in ("preparing", "ready", "picked_up"):
        assert shop.post(url, json={"status": status}).status_code == 200
    assert shop.post(f"/api/v1/orders/{order_id}/cancel").status_code == 409
    late = shop.post(url, json={"status": "preparing"})
    assert late.status_code == 200 and late.get_json()["changed"] is False
    assert late.get_json()["order"]["status"] == "picked_up"
    done = shop.post(url, json={"status": "delivered", "note": "left at door"}).get_json()["order"]
    assert [e["status"] for e in done["events"]] == [
        "accepted", "preparing", "ready", "picked_up", "delivered"
    ]  # fmt: skip
    assert done["events"][-1]["note"] == "left at door"
    assert shop.post(url, json={"status": "failed"}).status_code == 409
    assert shop.post(url, json={"status": "teleported"}).status_code == 400
    assert shop.post("/api/v1/orders/nope/status", json={"status": "ready"}).status_code == 404
    assert shop.get("/api/v1/orders/nope").status_code == 404


def test_a_cancelled_order_is_not_prepared_after_all(shop: FlaskClient) -> None:
    """The counter's preparing or ready on a cancelled order is a 409: the store must learn."""
    order_id = place(shop, order_body("L-2")).get_json()["order"]["id"]
    assert shop.post(f"/api/v1/orders/{order_id}/cancel").status_code == 200
    for status in ("preparing", "ready"):
        refused = shop.post(f"/api/v1/orders/{order_id}/status", json={"status": status})
        assert refused.status_code == 409
        assert refused.get_json()["error"]["code"] == "illegal_transition"


def test_a_hand_over_implies_ready(shop: FlaskClient) -> None:
    """A pick-up entered for an accepted order records the preparing and ready it implies."""
    order_id = place(shop, order_body("L-3")).get_json()["order"]["id"]
    moved = shop.post(f"/api/v1/orders/{order_id}/status", json={"status": "picked_up"})
    assert moved.status_code == 200 and moved.get_json()["changed"] is True
    events = moved.get_json()["order"]["events"]
    assert [e["status"] for e in events] == ["accepted", "preparing", "ready", "picked_up"]
    assert len({e["at"] for e in events[1:]}) == 1  # recorded together, at the hand-over


def test_cancel_releases_the_reservation(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """Stock reserved by an order is back once it is cancelled."""
    order = place(shop, order_body("C-1", items=[{"sku": "water-600ml", "qty": 3}]))
    order = order.get_json()["order"]
    level = stored_orders.stock_levels(redis_client, keyspace(order["store_id"]))["water-600ml"]
    cancelled = shop.post(f"/api/v1/orders/{order['id']}/cancel").get_json()["order"]
    assert cancelled["status"] == "cancelled"
    after = stored_orders.stock_levels(redis_client, keyspace(order["store_id"]))
    assert after["water-600ml"] == level + 3


def test_store_staff_list_orders(shop: FlaskClient) -> None:
    """A store sees its orders by status; an unknown store is 404."""
    order = place(shop, order_body("S-1")).get_json()["order"]
    store = order["store_id"]
    listed = shop.get(f"/api/v1/stores/{store}/orders?status=accepted").get_json()
    assert [o["id"] for o in listed["orders"]] == [order["id"]]
    shop.post(f"/api/v1/orders/{order['id']}/status", json={"status": "preparing"})
    assert shop.get(f"/api/v1/stores/{store}/orders?status=accepted").get_json()["count"] == 0
    assert shop.get(f"/api/v1/stores/{store}/orders?status=bogus").status_code == 400
    assert shop.get("/api/v1/stores/nope/orders").status_code == 404


def test_stock_push(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """Set and adjust in bulk; an adjustment below zero changes nothing."""
    url = f"/api/v1/stores/{FULIN}/stock"
    body = {"mode": "set", "items": [{"sku": "apple", "qty": 5}, {"sku": "tea-egg", "qty": 2}]}
    assert shop.post(url, json=body).get_json()["stock"]["apple"] == 5
    adjust = {
        "mode": "adjust",
        "items": [{"sku": "apple", "qty": -1}, {"sku": "tea-egg", "qty": -3}],
    }
    refused = shop.post(url, json=adjust)
    assert refused.status_code == 409
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["apple"] == 5
    ok = {"mode": "adjust", "items": [{"sku": "apple", "qty": -1}]}
    assert shop.post(url, json=ok).get_json()["stock"]["apple"] == 4
    bad = shop.post(url, json={"items": [{"sku": "caviar", "qty": 1}]})
    assert bad.status_code == 400 and "items[0].sku" in bad.get_json()["error"]["details"]["fields"]
    negative = shop.post(url, json={"items": [{"sku": "apple", "qty": -1}]})
    assert negative.status_code == 400
    assert shop.get(url).get_json()["stock"]["apple"] == 4
    assert shop.get("/api/v1/products").get_json()["products"][0]["sku"] == "apple"


def test_nearby_with_sku_only_lists_stocked_stores(
    shop: FlaskClient, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """sku= keeps exactly the nearest stores holding every item, in distance order."""
    lat, lng = NEAR_FULIN["lat"], NEAR_FULIN["lng"]
    query = {"lat": lat, "lng": lng, "radius_m": 3000, "limit": 5, "sku": "fresh-milk-936ml"}
    body = shop.get("/api/v1/stores/nearby", query_string=query).get_json()
    stocked = [
        (haversine_m(lat, lng, s.lat, s.lng), s.id)
        for s in demo_stores
        if stored_orders.stock_levels(redis_client, keyspace(s.id)).get("fresh-milk-936ml", 0) > 0
        and haversine_m(lat, lng, s.lat, s.lng) <= 3000
    ]
    assert [s["id"] for s in body["stores"]] == [i for _, i in sorted(stocked)[:5]]
    assert FULIN not in [s["id"] for s in body["stores"]]
    unknown = shop.get("/api/v1/stores/nearby", query_string=query | {"sku": "caviar"})
    assert unknown.status_code == 400 and "sku" in unknown.get_json()["error"]["details"]["fields"]
    many = ",".join(f"s{i}" for i in range(21))
    assert shop.get("/api/v1/stores/nearby", query_string=query | {"sku": many}).status_code == 400


def test_merchant_stats_per_channel(
    settings: Settings, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Orders and revenue per channel, on-time share and mean delivery time over a period."""
    moment = [FIXED_NOW]
    app = make_app(settings, redis_client, clock=lambda: moment[0])
    client = app.test_client()
    water = {"items": [{"sku": "water-600ml", "qty": 2}]}
    first = place(client, order_body("M-1", channel="wechat", **water)).get_json()["order"]
    second = place(client, order_body("M-2", channel="dianping", **water)).get_json()["order"]
    third = place(client, order_body("M-3", channel="wechat", **water)).get_json()["order"]
    assert first["store_id"] == second["store_id"] == third["store_id"]
    for status in ("preparing", "ready", "picked_up"):
        client.post(f"/api/v1/orders/{first['id']}/status", json={"status": status})
    moment[0] = FIXED_NOW + timedelta(minutes=40)
    client.post(f"/api/v1/orders/{first['id']}/status", json={"status": "delivered"})
    client.post(f"/api/v1/orders/{third['id']}/cancel")
    stats = client.get(f"/api/v1/stores/{first['store_id']}/stats").get_json()
    assert stats["orders"] == 3
    wechat = stats["by_channel"]["wechat"]
    assert (wechat["orders"], wechat["revenue_cents"], wechat["cancelled"]) == (2, 4000, 1)
    assert stats["by_channel"]["dianping"]["revenue_cents"] == 4000
    assert stats["delivered"] == 1 and stats["on_time_share"] == 1.0
    assert stats["mean_delivery_s"] == 40 * 60
    empty = client.get(
        f"/api/v1/stores/{first['store_id']}/stats",
        query_string={"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"},
    ).get_json()
    assert empty["orders"] == 0 and empty["on_time_share"] is None
    backwards = {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    bad = client.get(f"/api/v1/stores/{first['store_id']}/stats", query_string=backwards)
    assert bad.status_code == 400


def contended(redis_client: redis.Redis) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two umbrellas in town (Fulin and Fushun Road); pain relief only at Fulin.

    Order X wants an umbrella; order Y an umbrella and pain relief, so only Fulin can take Y.
    """
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"umbrella": 0, "pain-relief": 0})
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1, "pain-relief": 5})
    stored_orders.set_stock(redis_client, keyspace(FUSHUN), {"umbrella": 1})
    x = order_body("X-1", items=[{"sku": "umbrella", "qty": 1}])
    y = order_body("Y-1", items=[{"sku": "umbrella", "qty": 1}, {"sku": "pain-relief", "qty": 1}])
    return x, y


FUSHUN = "osm-node-3559052551"  # a 7-Eleven about 450 m from Fulin


def test_bulk_intake_serves_both_where_one_by_one_fails_one(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Greedy gives Fulin's umbrella to X and strands Y; the batch sends X to Fushun Road."""
    x, y = contended(redis_client)
    response = shop.post("/api/v1/orders/batch", json={"orders": [x, y]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 2 and body["refused"] == 0
    first, second = body["results"]
    assert first["order"]["store_id"] == FUSHUN and second["order"]["store_id"] == FULIN
    kept = {p["store_id"]: p["reasons"] for p in first["order"]["match"]["passed_over"]}
    assert kept[FULIN] == ["kept_for_other_orders_in_batch"]
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["umbrella"] == 0


def test_one_by_one_the_same_orders_strand_one(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """The baseline the batch improves on: X takes the nearest umbrella, Y is refused."""
    x, y = contended(redis_client)
    assert place(shop, x).get_json()["order"]["store_id"] == FULIN
    refused = place(shop, y)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "no_store_can_fulfil"


def test_bulk_items_fail_on_their_own(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """A bad or unknown item is answered in place; the good ones are still taken."""
    orders = [
        order_body("B-1"),
        order_body("B-2", lat=95),
        order_body("B-3", items=[{"sku": "caviar", "qty": 1}]),
        "not an object",
        order_body("B-1"),  # the same order again: replayed, not doubled
    ]
    body = shop.post("/api/v1/orders/batch", json={"orders": orders}).get_json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [201, 400, 422, 400, 201]
    assert body["results"][1]["error"]["details"]["fields"]["lat"]
    assert body["results"][0]["order"]["id"] == body["results"][4]["order"]["id"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 1


@pytest.mark.parametrize(
    "payload",
    [{"orders": []}, {"orders": [order_body()] * 201}, {"orders": "x"}, {"orders": [], "x": 1}, []],
)
def test_bulk_envelope_errors(shop: FlaskClient, payload: Any) -> None:
    """The envelope must be {"orders": [1..200 orders]}."""
    assert shop.post("/api/v1/orders/batch", json=payload).status_code == 400


def test_rebalance_moves_an_order_to_a_restocked_nearer_store(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """X went to Fushun Road while Fulin had no umbrella; once Fulin restocks, X moves there."""
    x, _ = contended(redis_client)
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 0})
    order = place(shop, x).get_json()["order"]
    assert order["store_id"] == FUSHUN
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1})
    report = shop.post("/api/v1/orders/rebalance").get_json()
    assert report["considered"] == 1
    assert report["moves"] == [{"order_id": order["id"], "from_store": FUSHUN, "to_store": FULIN}]
    assert report["ride_after_s"] < report["ride_before_s"]
    moved = shop.get(f"/api/v1/orders/{order['id']}").get_json()["order"]
    assert moved["store_id"] == FULIN and moved["status"] == "accepted"
    assert "re-balanced" in moved["events"][-1]["note"]
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["umbrella"] == 0
    assert stored_orders.stock_levels(redis_client, keyspace(FUSHUN))["umbrella"] == 1
    listed = shop.get(f"/api/v1/stores/{FULIN}/orders").get_json()["orders"]
    assert order["id"] in [o["id"] for o in listed]
    again = shop.post("/api/v1/orders/rebalance").get_json()
    assert again["moves"] == []


def test_rebalance_does_not_swap_identical_orders(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Six equal orders, three at Fulin and three at Fushun Road: nothing improves, none moves."""
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"umbrella": 0})
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 3})
    stored_orders.set_stock(redis_client, keyspace(FUSHUN), {"umbrella": 9})
    body = {"items": [{"sku": "umbrella", "qty": 1}]}
    orders = [place(shop, order_body(f"S-{i}", **body)).get_json()["order"] for i in range(6)]
    assert [o["store_id"] for o in orders] == [FULIN] * 3 + [FUSHUN] * 3
    for _ in range(10):  # the old matcher swapped them in about one run in three
        report = shop.post("/api/v1/orders/rebalance").get_json()
        assert report["moves"] == [] and report["considered"] == 6
        assert report["ride_after_s"] == report["ride_before_s"]
    for order in orders:
        again = shop.get(f"/api/v1/orders/{order['id']}").get_json()["order"]
        assert again["store_id"] == order["store_id"] and len(again["events"]) == 1
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["umbrella"] == 0


def store_of(redis_client: redis.Redis, order_id: str) -> str:
    order = stored_orders.get_order(redis_client, order_id)
    return str(None if order is None else order.store_id)


def test_moves_land_together_or_not_at_all(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """A set of moves of which one no longer fits writes nothing; one that fits moves all."""
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"umbrella": 0})
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1})
    stored_orders.set_stock(redis_client, keyspace(FUSHUN), {"umbrella": 1})
    body = {"items": [{"sku": "umbrella", "qty": 1}]}
    a, b = (place(shop, order_body(f"M-{i}", **body)).get_json()["order"] for i in range(2))
    assert (a["store_id"], b["store_id"]) == (FULIN, FUSHUN)
    capacity = {FULIN: 30, FUSHUN: 30}
    a_out = order_store.Move(a["id"], FULIN, FUSHUN, "test")
    b_in = order_store.Move(b["id"], FUSHUN, FULIN, "test")
    # a alone cannot go (Fushun's umbrella is b's), and b is not at Fulin: nothing is written
    for moves in ([a_out], [a_out, replace(b_in, from_store=FULIN, to_store=FUSHUN)]):
        assert not stored_orders.move_orders(
            redis_client, moves, capacity_per_hour=capacity, at=FIXED_NOW
        )
    assert store_of(redis_client, a["id"]) == FULIN
    assert stored_orders.stock_levels(redis_client, keyspace(FUSHUN))["umbrella"] == 0
    # together they fit: each takes the other's umbrella
    swap = [a_out, b_in]
    assert stored_orders.move_orders(redis_client, swap, capacity_per_hour=capacity, at=FIXED_NOW)
    assert store_of(redis_client, a["id"]) == FUSHUN
    assert store_of(redis_client, b["id"]) == FULIN
    for store_id in (FULIN, FUSHUN):
        assert stored_orders.stock_levels(redis_client, keyspace(store_id))["umbrella"] == 0
    # Fulin at its capacity takes nothing in, even as one order leaves, unless the net fits
    back = [replace(m, from_store=m.to_store, to_store=m.from_store) for m in swap]
    tight = {FULIN: 0, FUSHUN: 30}
    assert not stored_orders.move_orders(redis_client, back, capacity_per_hour=tight, at=FIXED_NOW)


def test_rebalance_leaves_orders_in_preparation_alone(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Once a store is preparing an order, re-balancing never moves it."""
    x, _ = contended(redis_client)
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 0})
    order = place(shop, x).get_json()["order"]
    shop.post(f"/api/v1/orders/{order['id']}/status", json={"status": "preparing"})
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1})
    report = shop.post("/api/v1/orders/rebalance").get_json()
    assert report["considered"] == 0 and report["moves"] == []
    assert shop.get(f"/api/v1/orders/{order['id']}").get_json()["order"]["store_id"] == FUSHUN


def test_rebalance_keeps_every_order_and_all_stock_accounted_for(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """After moves, every order is still there and stock taken equals stock ordered."""
    stores = [stocked.store_id for stocked in stored_orders.stocked_stores(redis_client)]
    before = {
        s: stored_orders.stock_levels(redis_client, keyspace(s)).get("apple", 0) for s in stores
    }
    spots = [(24.1800, 120.5930), (24.1880, 120.5940), (24.1850, 120.6100), (24.1820, 120.6070)]
    ids = []
    for i, (lat, lng) in enumerate(spots * 2):
        body = order_body(f"RB-{i}", lat=lat, lng=lng, items=[{"sku": "apple", "qty": 1}])
        response = place(shop, body)
        if response.status_code == 201:
            ids.append(response.get_json()["order"]["id"])
    for store_id in stores:  # new deliveries everywhere: better stores may now be free
        stored_orders.adjust_stock(redis_client, keyspace(store_id), {"apple": 3})
    shop.post("/api/v1/orders/rebalance")
    after = {
        s: stored_orders.stock_levels(redis_client, keyspace(s)).get("apple", 0) for s in stores
    }
    orders = [shop.get(f"/api/v1/orders/{i}").get_json()["order"] for i in ids]
    assert all(o["status"] == "accepted" for o in orders) and len(orders) == len(ids)
    taken = sum(before[s] + 3 - after[s] for s in stores)
    assert taken == len(ids) > 0
    for store_id in stores:
        held = sum(1 for o in orders if o["store_id"] == store_id)
        assert before[store_id] + 3 - after[store_id] == held


def test_a_full_batch_of_200_is_taken(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """The largest batch allowed fits the body limit and is answered order by order."""
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"water-600ml": 50})
    orders = [order_body(f"FB-{i}", address="x" * 300) for i in range(200)]
    response = shop.post("/api/v1/orders/batch", json={"orders": orders})
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["results"]) == 200 and body["accepted"] + body["refused"] == 200
    assert body["accepted"] == redis_client.xlen(order_keys.ORDER_STREAM) > 0


@pytest.mark.parametrize("path", ["/api/v1/orders/batch", "/api/v1/orders/rebalance"])
@pytest.mark.parametrize("method", ["get", "delete"])
def test_the_collections_own_routes_are_not_order_ids(
    shop: FlaskClient, path: str, method: str
) -> None:
    """GET /orders/batch is a JSON 405 that allows POST, not a search for an order "batch"."""
    response = getattr(shop, method)(path)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"] and "GET" not in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_idempotency_keys_are_the_callers_own(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """A shopper's channel ids and Idempotency-Keys are theirs: another shopper reusing them
    gets an order of their own and learns nothing of the first, not even its id; staff (the
    channels' integrations) share one space, so any staff token's retry gets the order back."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    first = place(shop, order_body("I-1"), **alice, **{"Idempotency-Key": "ik-1"})
    assert first.status_code == 201
    alices = first.get_json()["order"]["id"]
    reuses = [(order_body("I-1"), "ik-9"), (order_body("I-9"), "ik-1"),
              (order_body("I-1", note="other"), "ik-1")]  # fmt: skip
    for k, (body, key) in enumerate(reuses):
        other = bearer(token_for(redis_client, "shopper", f"bob{k}"))
        theirs = place(shop, body, **other, **{"Idempotency-Key": key})
        assert theirs.status_code == 201, theirs.get_json()
        assert alices not in theirs.get_data(as_text=True)
        assert theirs.get_json()["order"]["shopper_id"] == f"bob{k}"
        again = place(shop, body, **other, **{"Idempotency-Key": key})
        assert again.get_json()["order"]["id"] == theirs.get_json()["order"]["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
    # alice's own retry is still hers; her own reuse with another body names her own order
    assert place(shop, order_body("I-1"), **alice).get_json()["order"]["id"] == alices
    clash = place(shop, order_body("I-1", note="other"), **alice)
    assert clash.status_code == 409 and clash.get_json()["error"]["details"]["order_id"] == alices
    # staff: one space for every staff token, apart from the shoppers'
    integration = place(shop, order_body("W-1", channel="wechat"))
    dispatcher = bearer(token_for(redis_client, "dispatcher"))
    retry = place(shop, order_body("W-1", channel="wechat"), **dispatcher)
    assert retry.get_json()["order"]["id"] == integration.get_json()["order"]["id"]
    shopper_copy = place(shop, order_body("W-1", channel="wechat"), **alice)
    assert shopper_copy.status_code == 201
    assert integration.get_json()["order"]["id"] not in shopper_copy.get_data(as_text=True)


# -- orders taken at a store (walk-ins and calls) --------------------------------------------


def test_store_staff_enter_walk_in_and_phone_orders_for_their_store(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Fushun Road's staff take orders next to Fulin: they are Fushun Road's, not Fulin's."""
    stored_orders.set_stock(redis_client, keyspace(FUSHUN), {"water-600ml": 5})
    staff = bearer(token_for(redis_client, "store", FUSHUN))
    for channel in ("store", "phone"):
        response = place(shop, order_body(f"W-{channel}", channel=channel), **staff)
        assert response.status_code == 201, response.get_json()
        order = response.get_json()["order"]
        assert order["store_id"] == FUSHUN and order["taken_at_store"] == FUSHUN
        assert "took the order" in order["match"]["reason"]
        assert shop.get(f"/api/v1/orders/{order['id']}", headers=staff).status_code == 200
    assert stored_orders.stock_levels(redis_client, keyspace(FUSHUN))["water-600ml"] == 3
    named = place(shop, order_body("W-own", channel="store", store_id=FUSHUN), **staff)
    assert named.status_code == 201 and named.get_json()["order"]["store_id"] == FUSHUN


def test_store_staff_stay_within_their_store(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """Other channels are a 403 naming channel; another store's id looks like no store."""
    staff = bearer(token_for(redis_client, "store", FUSHUN))
    app_order = place(shop, order_body("W-app", channel="app"), **staff)
    assert app_order.status_code == 403
    assert app_order.get_json()["error"]["details"]["field"] == "channel"
    other = place(shop, order_body("W-other", channel="store", store_id=FULIN), **staff)
    assert other.status_code == 404
    assert other.get_json()["error"]["code"] == "store_not_found"
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0


def test_a_store_that_cannot_fulfil_its_walk_in_says_why(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Fushun Road out of water: a 422 with its own reasons; the order is not sent to Fulin."""
    stored_orders.set_stock(redis_client, keyspace(FUSHUN), {"water-600ml": 0})
    fulin_before = stored_orders.stock_levels(redis_client, keyspace(FULIN))
    staff = bearer(token_for(redis_client, "store", FUSHUN))
    refused = place(shop, order_body("W-none", channel="store"), **staff)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "no_store_can_fulfil" and FUSHUN in error["message"]
    assert error["details"]["candidates"] == [
        {
            "store_id": FUSHUN,
            "ride_s": error["details"]["candidates"][0]["ride_s"],
            "reasons": ["out_of_stock"],
            "missing_skus": ["water-600ml"],
        }
    ]
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN)) == fulin_before
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
    stored_orders.set_stock(
        redis_client, keyspace(FUSHUN), {"water-600ml": 1}
    )  # a retry may succeed
    assert place(shop, order_body("W-none", channel="store"), **staff).status_code == 201


def test_a_store_channel_order_from_staff_names_its_store(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Dispatcher or admin: store_id is required with channel store, refused with any other,
    and must be a store of the catalogue; a shopper cannot send a store-channel order."""
    missing = place(shop, order_body("D-1", channel="store"))
    assert missing.status_code == 400
    assert "store_id" in missing.get_json()["error"]["details"]["fields"]
    chosen = place(shop, order_body("D-2", channel="app", store_id=FUSHUN))  # a chosen store
    assert chosen.status_code == 201 and chosen.get_json()["order"]["store_id"] == FUSHUN
    unknown = place(shop, order_body("D-3", channel="store", store_id="osm-node-0"))
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["code"] == "unknown_store"
    named = place(shop, order_body("D-4", channel="store", store_id=FUSHUN))
    assert named.status_code == 201 and named.get_json()["order"]["store_id"] == FUSHUN
    shopper = bearer(token_for(redis_client, "shopper", "alice"))
    refused = place(shop, order_body("D-5", channel="store", store_id=FUSHUN), **shopper)
    assert refused.status_code == 403
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 2


def test_bulk_store_channel_orders_go_to_their_store(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """In a batch too, a store-channel order goes to the store named, or is refused in place."""
    orders = [
        order_body("BS-1", channel="store", store_id=FUSHUN),
        order_body("BS-2", channel="store"),
        order_body("BS-3"),
    ]
    body = shop.post("/api/v1/orders/batch", json={"orders": orders}).get_json()
    assert [r["status"] for r in body["results"]] == [201, 400, 201]
    assert body["results"][0]["order"]["store_id"] == FUSHUN
    assert body["results"][2]["order"]["store_id"] == FULIN


def test_rebalance_leaves_an_order_with_the_store_that_took_it(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """A walk-in at Fushun Road stays there, though Fulin is nearer to the address."""
    staff = bearer(token_for(redis_client, "store", FUSHUN))
    order = place(shop, order_body("W-stay", channel="store"), **staff).get_json()["order"]
    assert order["store_id"] == FUSHUN
    report = shop.post("/api/v1/orders/rebalance").get_json()
    assert report["considered"] == 1 and report["moves"] == []
    assert store_of(redis_client, order["id"]) == FUSHUN


def test_two_stores_receipt_numbers_do_not_meet(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """The same external id at two counters never hands one store the other's order."""
    first = place(
        shop,
        order_body("0001", channel="store"),
        **bearer(token_for(redis_client, "store", FUSHUN)),
    )
    assert first.status_code == 201
    second = place(
        shop, order_body("0001", channel="store"), **bearer(token_for(redis_client, "store", FULIN))
    )
    assert second.status_code != 201 or (
        second.get_json()["order"]["id"] != first.get_json()["order"]["id"]
    )


def test_a_batch_reusing_an_external_id_with_another_body_refuses_only_that_order(
    shop: FlaskClient, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """Two orders of one batch with the same channel and external_id but different bodies: the
    first is taken, the second a 409 naming the first, with nothing of it written (it was a 500
    after the first was written); an identical copy is the first order again."""

    def water_on_shelves() -> int:
        levels = [stored_orders.stock_levels(redis_client, keyspace(s.id)) for s in demo_stores]
        return sum(level.get("water-600ml", 0) for level in levels)

    before = water_on_shelves()
    water = [{"sku": "water-600ml", "qty": 1}]
    orders = [
        "junk",  # refused in place: the indexes below count the batch as sent
        order_body("T-1", items=water),
        order_body("T-1", items=[{"sku": "water-600ml", "qty": 5}]),
        order_body("T-1", items=water),
    ]
    response = shop.post("/api/v1/orders/batch", json={"orders": orders})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [400, 201, 409, 201]
    first = results[1]["order"]
    error = results[2]["error"]
    assert error["code"] == "idempotency_conflict"
    assert error["details"] == {"order_id": first["id"], "field": "external_id", "same_as_index": 1}
    assert results[3]["order"]["id"] == first["id"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 1
    assert water_on_shelves() == before - 1


def test_a_batch_order_whose_twin_is_still_being_placed_is_told_to_retry(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """A batch order whose channel id a live request still holds: that order is a 409
    request_in_progress in its place, the others are taken (it was a 500 for the batch)."""
    body = order_body("Y-1")
    key = idempotency.keys_for("app", "Y-1", None)[0]
    young = idempotency.Claim("0123456789abcdef", body_hash(body), FIXED_NOW.timestamp() - 10)
    redis_client.set(key, young.text())
    response = shop.post("/api/v1/orders/batch", json={"orders": [body, order_body("Y-2")]})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [409, 201]
    assert results[0]["error"]["code"] == "request_in_progress"
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 1
