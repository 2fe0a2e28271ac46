"""Pick-up in store, a store the shopper chose, and campaigns, through the API on a real Redis."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.snapshot import snapshot
from dispatch.storage.tokens import issue_token
from dispatch.worker import replan_once, sweep_pickups
from geo.distance import haversine_m
from geo.stores import Store
from geo.travel import StraightLineTravel
from tests.conftest import FIXED_NOW, bearer, keyspace, make_app, token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import FULIN, FUSHUN, order_body, place

FAR_EAST = {"lat": 24.18, "lng": 120.68}  # ~7 km from the nearest demo store: past every radius
HOLD = timedelta(hours=2)


def pickup_body(external_id: str, **changes: Any) -> dict[str, Any]:
    return order_body(external_id, fulfilment="pickup") | changes


def test_a_pick_up_goes_to_the_nearest_open_store_with_the_goods_and_no_courier(
    shop: FlaskClient, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """Milk next to Fulin (which has none) goes to the nearest store with milk; the order is
    never in the planner's snapshot or the dispatcher's open orders, and a re-plan with a
    courier on shift gives it no stop."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    milk = {"items": [{"sku": "fresh-milk-936ml", "qty": 1}]}
    response = place(shop, pickup_body("P-1", **milk))
    assert response.status_code == 201, response.get_json()
    order = response.get_json()["order"]
    assert order["fulfilment"] == "pickup" and order["store_id"] != FULIN
    assert "pick-up in store" in order["match"]["reason"]
    passed = {p["store_id"]: p["reasons"] for p in order["match"]["passed_over"]}
    assert passed[FULIN] == ["out_of_stock"]
    delivery = place(shop, order_body("D-1", **milk)).get_json()["order"]
    assert stored_orders.open_order_ids(redis_client) == [delivery["id"]]
    stores = {s.id: s for s in demo_stores}
    orders, _, _ = snapshot(redis_client, store_of=stores.get, now=FIXED_NOW)
    assert [o.id for o in orders] == [delivery["id"]]
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    planned = {s["order_id"] for r in plan["routes"] for s in r["stops"]}
    assert delivery["id"] in planned and order["id"] not in planned
    assert order["id"] not in plan["unassigned"]


def test_a_pick_up_has_no_delivery_radius(
    shop: FlaskClient, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """Seven km out: a delivery is refused (outside every radius), a pick-up goes to the
    nearest store, Fulin."""
    far = (FAR_EAST["lat"], FAR_EAST["lng"])
    nearest = min(demo_stores, key=lambda s: haversine_m(s.lat, s.lng, *far))
    assert nearest.id == FULIN
    assert haversine_m(nearest.lat, nearest.lng, *far) > max(
        s.delivery_radius_m for s in demo_stores
    )
    refused = place(shop, order_body("F-1", **FAR_EAST))
    assert refused.status_code == 422
    reasons = refused.get_json()["error"]["details"]["candidates"][0]["reasons"]
    assert "outside_delivery_radius" in reasons
    taken = place(shop, pickup_body("F-2", **FAR_EAST))
    assert taken.status_code == 201 and taken.get_json()["order"]["store_id"] == FULIN


def test_store_staff_prepare_hand_over_against_the_code(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Ready: the tracking API says ready for pick-up with the store's address, the code and
    the time it is kept until; a wrong code is a 422 naming code; the right one collects."""
    placed = place(shop, pickup_body("P-2")).get_json()
    order_id, tracking = placed["order"]["id"], placed["tracking"]
    staff = bearer(token_for(redis_client, "store", placed["order"]["store_id"]))
    view = shop.get(tracking["api"]).get_json()
    assert view["fulfilment"] == "pickup" and view["pickup"]["ready_for_pickup"] is False
    assert view["pickup"]["collect_by"] is None
    assert [s["status"] for s in view["order"]["steps"]] == [
        "accepted", "preparing", "ready", "collected"]  # fmt: skip
    early = shop.post(f"/api/v1/orders/{order_id}/status", json={"status": "ready"}, headers=staff)
    assert early.status_code == 200
    view = shop.get(tracking["api"]).get_json()
    pickup = view["pickup"]
    assert pickup["ready_for_pickup"] is True and pickup["code"] == tracking["delivery_code"]
    assert pickup["store_address"] == view["store"]["address"] and pickup["store_address"]
    ready_at = datetime.fromisoformat(view["order"]["events"][-1]["at"])
    assert datetime.fromisoformat(pickup["collect_by"]) == ready_at + HOLD
    assert view["estimated_arrival"] is None and view["courier"]["assigned"] is False
    wrong_code = "0000" if tracking["delivery_code"] != "0000" else "1111"
    wrong = shop.post(f"/api/v1/orders/{order_id}/collect", json={"code": wrong_code},
                      headers=staff)  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.get_json()["error"]["details"] == {"field": "code", "tries_left": 4}
    missing = shop.post(f"/api/v1/orders/{order_id}/collect", json={}, headers=staff)
    assert missing.status_code == 400 and "code" in missing.get_json()["error"]["details"]["fields"]
    right = shop.post(f"/api/v1/orders/{order_id}/collect",
                      json={"code": tracking["delivery_code"]}, headers=staff)  # fmt: skip
    assert right.status_code == 200 and right.get_json()["order"]["status"] == "collected"
    again = shop.post(f"/api/v1/orders/{order_id}/collect",
                      json={"code": tracking["delivery_code"]}, headers=staff)  # fmt: skip
    assert again.status_code == 409
    assert order_id not in stored_orders.open_order_ids(redis_client)
    assert not redis_client.zrange(order_keys.pickup_key("all"), 0, -1)


def test_each_fulfilment_keeps_to_its_own_steps(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """No courier pick-up or delivery for a pick-up order, no counter hand-over for a
    delivery; another store's staff cannot hand an order over."""
    pickup = place(shop, pickup_body("P-3")).get_json()["order"]
    delivery = place(shop, order_body("D-3")).get_json()["order"]
    courier_step = shop.post(f"/api/v1/orders/{pickup['id']}/status", json={"status": "picked_up"})
    assert courier_step.status_code == 409
    assert "pickup order is never picked_up" in courier_step.get_json()["error"]["message"]
    counter_step = shop.post(f"/api/v1/orders/{delivery['id']}/collect", json={"code": "1234"})
    assert counter_step.status_code == 409
    assert counter_step.get_json()["error"]["details"]["field"] == "fulfilment"
    expire = shop.post(f"/api/v1/orders/{delivery['id']}/status", json={"status": "expired"})
    assert expire.status_code == 409
    other = FUSHUN if pickup["store_id"] != FUSHUN else FULIN
    theirs = bearer(token_for(redis_client, "store", other))
    foreign = shop.post(f"/api/v1/orders/{pickup['id']}/collect", json={"code": "1"},
                        headers=theirs)  # fmt: skip
    assert foreign.status_code == 404


def test_an_uncollected_pick_up_expires_and_gives_its_stock_back(
    settings: Settings, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Kept two hours after ready (PICKUP_HOLD_SECONDS): a sweep a second before changes
    nothing, one at the time lets it expire with its stock and slot back; sweeping again, or
    after a hand-over, does nothing."""
    shelf = stored_orders.stock_levels(redis_client, keyspace(FULIN))["water-600ml"]
    first = place(shop, pickup_body("E-1", store_id=FULIN)).get_json()["order"]
    second = place(shop, pickup_body("E-2", store_id=FULIN)).get_json()["order"]
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["water-600ml"] == shelf - 2
    for order in (first, second):
        assert shop.post(f"/api/v1/orders/{order['id']}/status",
                         json={"status": "ready"}).status_code == 200  # fmt: skip
    shop.post(f"/api/v1/orders/{second['id']}/status", json={"status": "collected"})
    ready_at = FIXED_NOW
    assert sweep_pickups(redis_client, now=ready_at + HOLD - timedelta(seconds=1),
                         hold_s=HOLD.total_seconds()) == []  # fmt: skip
    assert sweep_pickups(redis_client, now=ready_at + HOLD, hold_s=HOLD.total_seconds()) == [
        first["id"]
    ]
    expired = shop.get(f"/api/v1/orders/{first['id']}").get_json()["order"]
    assert expired["status"] == "expired" and "not collected by" in expired["events"][-1]["note"]
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN))["water-600ml"] == shelf - 1
    capacity = redis_client.zrange(order_keys.capacity_key(keyspace(FULIN)), 0, -1)
    assert first["id"].encode() not in capacity and second["id"].encode() in capacity
    assert stored_orders.expire_uncollected(redis_client, now=ready_at + 2 * HOLD, hold=HOLD) == []
    tracked = shop.get(f"/api/v1/orders/{first['id']}").get_json()["order"]
    assert tracked["status"] == "expired"


def test_the_hold_is_a_setting(settings: Settings, redis_client: redis.Redis) -> None:
    """PICKUP_HOLD_SECONDS sets how long a ready pick-up is kept."""
    assert Settings.from_env({"PICKUP_HOLD_SECONDS": "1800"}).pickup_hold_s == 1800
    assert Settings.from_env({}).pickup_hold_s == HOLD.total_seconds()


def test_a_pick_up_never_enters_the_planners_problem(
    shop: FlaskClient, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """replan_once on Redis: only the delivery is planned."""
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    pickup = place(shop, pickup_body("R-1")).get_json()["order"]
    delivery = place(shop, order_body("R-2")).get_json()["order"]
    stores = {s.id: s for s in demo_stores}
    plan = replan_once(redis_client, store_of=stores.get, travel=StraightLineTravel(),
                       now=FIXED_NOW, time_limit_s=0.5)  # fmt: skip
    assert plan is not None
    stops = {s.order_id for r in plan.routes for s in r.stops}
    assert stops == {delivery["id"]} and pickup["id"] not in plan.unassigned


# -- a store the shopper chose -------------------------------------------------------------------


def test_a_shopper_s_chosen_store_serves_the_order(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Fushun Road chosen beside Fulin: the order is Fushun Road's, for delivery and pick-up."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    for fulfilment in ("delivery", "pickup"):
        body = order_body(f"C-{fulfilment}", store_id=FUSHUN, fulfilment=fulfilment)
        response = place(shop, body, **alice)
        assert response.status_code == 201, response.get_json()
        order = response.get_json()["order"]
        assert order["store_id"] == FUSHUN and order["taken_at_store"] == FUSHUN
        assert "the store the shopper chose" in order["match"]["reason"]


def test_a_chosen_store_that_cannot_says_why_and_which_could(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Milk at Fulin: a 422 with Fulin's reasons and the nearest store that has milk; nothing
    written; an unknown chosen store is a 422 naming store_id."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    milk = [{"sku": "fresh-milk-936ml", "qty": 1}]
    stock_before = stored_orders.stock_levels(redis_client, keyspace(FULIN))
    refused = place(shop, order_body("C-1", store_id=FULIN, items=milk), **alice)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "no_store_can_fulfil" and error["details"]["field"] == "store_id"
    assert error["details"]["candidates"][0]["store_id"] == FULIN
    assert error["details"]["candidates"][0]["reasons"] == ["out_of_stock"]
    instead = error["details"]["nearest_that_could"]
    matched = place(shop, order_body("C-2", items=milk), **alice).get_json()["order"]
    assert instead["store_id"] == matched["store_id"] != FULIN
    assert instead["name"] and instead["distance_m"] > 0
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN)) == stock_before
    batch = shop.post("/api/v1/orders/batch", json={"orders": [
        order_body("C-5", store_id=FULIN, items=milk)]}).get_json()  # fmt: skip
    assert batch["results"][0]["status"] == 422
    assert batch["results"][0]["error"]["details"]["nearest_that_could"] == instead
    unknown = place(shop, order_body("C-3", store_id="osm-node-0"), **alice)
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["details"]["field"] == "store_id"
    nowhere = place(shop, order_body("C-4", store_id=FULIN, items=[
        {"sku": "fresh-milk-936ml", "qty": 99}]), **alice)  # fmt: skip
    assert nowhere.get_json()["error"]["details"]["nearest_that_could"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fulfilment": "drone"}, "fulfilment"),
        ({"fulfilment": None}, "fulfilment"),
        ({"campaign": "summer sale"}, "campaign"),
        ({"campaign": "x" * 65}, "campaign"),
        ({"campaign": 7}, "campaign"),
        ({"campaign": ""}, "campaign"),
        ({"store_id": "not a store id"}, "store_id"),
    ],
)
def test_bad_new_fields_are_400_naming_the_field(
    shop: FlaskClient, redis_client: redis.Redis, changes: dict[str, Any], field: str
) -> None:
    """Each bad value is a 400 naming its field, with nothing written."""
    response = place(shop, order_body("B-1") | changes)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0


# -- campaigns in the merchant's figures ----------------------------------------------------------


def test_merchant_figures_per_campaign_channel_and_fulfilment(
    settings: Settings, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Alice bought at Fulin 40 days before (returning) and comes back only 40 days after; Bob
    first buys through the QR campaign (new) and again ten days later (a repeat); Carol's
    campaign order is cancelled; Bob's pick-up, ready in 20 minutes, is on time."""
    moment = [FIXED_NOW - timedelta(days=40)]
    client = make_app(settings, redis_client, clock=lambda: moment[0]).test_client()

    def order(name: str, ext: str, **changes: Any) -> dict[str, Any]:
        shopper = bearer(issue_token(redis_client, "shopper", name, at=moment[0])[1])
        answer = place(client, order_body(ext, store_id=FULIN) | changes, **shopper)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["order"]  # type: ignore[no-any-return]

    order("alice", "A-old")
    moment[0] = FIXED_NOW
    order("alice", "A-1", campaign="QR-2026")
    bob = order("bob", "B-1", campaign="QR-2026", channel="wechat", fulfilment="pickup")
    carol = order("carol", "C-1", campaign="QR-2026")
    client.post(f"/api/v1/orders/{carol['id']}/cancel")
    moment[0] = FIXED_NOW + timedelta(minutes=20)
    client.post(f"/api/v1/orders/{bob['id']}/status", json={"status": "ready"})
    moment[0] = FIXED_NOW + timedelta(days=10)
    order("bob", "B-2")
    moment[0] = FIXED_NOW + timedelta(days=40)
    order("alice", "A-2")
    period = {"from": "2026-11-21T18:00:00Z", "to": "2026-11-21T20:00:00Z"}
    assert datetime.fromisoformat(period["from"]) < FIXED_NOW < datetime.fromisoformat(period["to"])
    stats = client.get(f"/api/v1/stores/{FULIN}/stats", query_string=period).get_json()
    price = 2000  # a bottle of water
    assert stats["orders"] == 3 and stats["revenue_cents"] == 2 * price
    assert (stats["shoppers"], stats["new_shoppers"], stats["returning_shoppers"]) == (2, 1, 1)
    qr = stats["by_campaign"]["QR-2026"]
    assert (qr["orders"], qr["revenue_cents"], qr["cancelled"]) == (3, 2 * price, 1)
    assert (qr["new_shoppers"], qr["returning_shoppers"]) == (1, 1)
    assert qr["repeat_rate_30d"] == 0.5  # Bob came back within 30 days, Alice after 40
    assert set(stats["by_campaign"]) == {"QR-2026"}
    wechat = stats["by_channel"]["wechat"]
    assert (wechat["orders"], wechat["new_shoppers"], wechat["returning_shoppers"]) == (1, 1, 0)
    assert wechat["repeat_rate_30d"] == 1.0 and stats["by_channel"]["app"]["orders"] == 2
    pickup = stats["by_fulfilment"]["pickup"]
    assert pickup["orders"] == 1 and pickup["on_time_share"] == 1.0
    assert stats["by_fulfilment"]["delivery"]["orders"] == 2
    assert stats["by_fulfilment"]["delivery"]["on_time_share"] is None  # none delivered yet


def test_age_restricted_goods_leave_the_counter_only_after_an_id_check(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Beer for pick-up: without id_checked true the hand-over is a 422 naming it and costs no
    code try; with it the order is collected. Water needs no check."""
    beer = place(shop, pickup_body("P-ID", items=[{"sku": "beer-330ml", "qty": 1}])).get_json()
    order_id, code = beer["order"]["id"], beer["tracking"]["delivery_code"]
    staff = bearer(token_for(redis_client, "store", beer["order"]["store_id"]))
    for body in ({"code": code}, {"code": code, "id_checked": False}):
        refused = shop.post(f"/api/v1/orders/{order_id}/collect", json=body, headers=staff)
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["error"]["code"] == "id_check_required"
        assert refused.get_json()["error"]["details"] == {"field": "id_checked"}
    wrong_type = shop.post(f"/api/v1/orders/{order_id}/collect",
                           json={"code": code, "id_checked": "yes"}, headers=staff)  # fmt: skip
    assert wrong_type.status_code == 400
    assert "id_checked" in wrong_type.get_json()["error"]["details"]["fields"]
    wrong = "0000" if code != "0000" else "1111"
    tries = shop.post(f"/api/v1/orders/{order_id}/collect",
                      json={"code": wrong, "id_checked": True}, headers=staff)  # fmt: skip
    assert tries.get_json()["error"]["details"]["tries_left"] == 4  # the refusals cost none
    done = shop.post(f"/api/v1/orders/{order_id}/collect",
                     json={"code": code, "id_checked": True}, headers=staff)  # fmt: skip
    assert done.status_code == 200 and done.get_json()["order"]["status"] == "collected"
    water = place(shop, pickup_body("P-W")).get_json()
    plain = shop.post(
        f"/api/v1/orders/{water['order']['id']}/collect",
        json={"code": water["tracking"]["delivery_code"]},
        headers=bearer(token_for(redis_client, "store", water["order"]["store_id"])),
    )
    assert plain.status_code == 200, plain.get_json()


def test_a_store_lists_its_pick_ups_apart(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """?fulfilment=pickup lists the counter's orders only, =delivery the couriers'; two values or
    an unknown one is a 400 naming the parameter."""
    pickup = place(shop, pickup_body("P-L1", store_id=FULIN)).get_json()["order"]
    delivery = place(shop, order_body("P-L2", store_id=FULIN)).get_json()["order"]
    assert pickup["store_id"] == delivery["store_id"] == FULIN
    staff = bearer(token_for(redis_client, "store", FULIN))
    path = f"/api/v1/stores/{FULIN}/orders"
    for kind, order in (("pickup", pickup), ("delivery", delivery)):
        listed = shop.get(f"{path}?fulfilment={kind}", headers=staff).get_json()["orders"]
        assert [o["id"] for o in listed] == [order["id"]]
    both = shop.get(path, headers=staff).get_json()["orders"]
    assert {o["id"] for o in both} == {pickup["id"], delivery["id"]}
    for query in ("fulfilment=pickup,delivery", "fulfilment=drone"):
        refused = shop.get(f"{path}?{query}", headers=staff)
        assert refused.status_code == 400
        assert list(refused.get_json()["error"]["details"]["fields"]) == ["fulfilment"]
