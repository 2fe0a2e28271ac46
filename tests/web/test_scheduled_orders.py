"""Scheduled orders through the HTTP API on a real Redis: deliver_at, its window, the store's
hours and hour slots, the planner's view, tracking and the store's list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.schedule import PLANNING_LEAD, WINDOW
from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.snapshot import snapshot
from tests.conftest import FIXED_NOW, keyspace, make_app
from tests.web.conftest import courier_body
from tests.web.test_orders_api import FULIN, order_body, place
from web.services import catalogue_index

TAIPEI = ZoneInfo("Asia/Taipei")
SUPERMARKET = "osm-way-462986245"  # open 08:00-22:00, 1.7 km from Fulin; closed at FIXED_NOW


def at_taipei(day: int, hour: int, minute: int = 0) -> str:
    """A moment on the Taipei clock (FIXED_NOW is Sunday 22 November, 03:00 there)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TAIPEI).isoformat()


def walk_in(store_id: str, external_id: str, deliver_at: str | None, **changes: Any) -> Any:
    return order_body(external_id, channel="store", store_id=store_id, deliver_at=deliver_at,
                      **changes)  # fmt: skip


def test_a_scheduled_order_is_promised_its_window(shop: FlaskClient) -> None:
    """An order for 06:00 is promised 05:45-06:15, made ready one ride before 05:45 and started
    a preparation time before that; tracking and the store's list show the time."""
    deliver_at = FIXED_NOW + timedelta(hours=3)
    answer = place(shop, order_body("S-1", deliver_at=deliver_at.isoformat()))
    assert answer.status_code == 201, answer.get_json()
    order = answer.get_json()["order"]
    assert datetime.fromisoformat(order["deliver_at"]) == deliver_at
    window = {k: datetime.fromisoformat(v) for k, v in order["delivery_window"].items()}
    assert window == {"from": deliver_at - WINDOW, "to": deliver_at + WINDOW}
    assert datetime.fromisoformat(order["promised_by"]) == window["to"]
    ready_by = datetime.fromisoformat(order["ready_by"])
    prepare_from = datetime.fromisoformat(order["prepare_from"])
    assert FIXED_NOW < prepare_from < ready_by <= window["from"]
    store = catalogue_index_of(shop, order["store_id"])
    assert ready_by - prepare_from == timedelta(seconds=store.prep_time_s)
    view = shop.get(answer.get_json()["tracking"]["api"], headers={"Authorization": ""})
    assert view.get_json()["order"]["deliver_at"] == order["deliver_at"]
    assert view.get_json()["order"]["delivery_window"] == order["delivery_window"]
    listed = shop.get(f"/api/v1/stores/{order['store_id']}/orders").get_json()["orders"]
    assert [(o["id"], o["prepare_from"]) for o in listed] == [(order["id"], order["prepare_from"])]


def catalogue_index_of(shop: FlaskClient, store_id: str) -> Any:
    assert shop.application is not None
    with shop.application.app_context():
        return catalogue_index().get(store_id)


@pytest.mark.parametrize(
    "deliver_at",
    [
        (FIXED_NOW + timedelta(minutes=30)).isoformat(),  # sooner than an hour: an order for now
        (FIXED_NOW - timedelta(hours=2)).isoformat(),
        (FIXED_NOW + timedelta(days=3)).isoformat(),
        "2026-11-22T10:00:00",  # no zone: whose ten o'clock?
        "tomorrow morning",
        1_800_000_000,
    ],
)
def test_a_deliver_at_that_cannot_be_booked_is_a_400_naming_it(
    shop: FlaskClient, redis_client: redis.Redis, deliver_at: Any
) -> None:
    """Too soon, past, too far, without a zone or not a moment: 400 on deliver_at, nothing
    written."""
    answer = place(shop, order_body("S-2", deliver_at=deliver_at))
    assert answer.status_code == 400
    assert list(answer.get_json()["error"]["details"]["fields"]) == ["deliver_at"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0


def test_tomorrow_is_the_stores_tomorrow(shop: FlaskClient) -> None:
    """Monday 23:30 in Taipei is tomorrow there; Tuesday 00:30 is refused with every store's
    reason beyond_tomorrow (422)."""
    monday = place(shop, order_body("S-3", deliver_at=at_taipei(23, 23, 30)))
    assert monday.status_code == 201, monday.get_json()
    tuesday = place(shop, order_body("S-4", deliver_at=at_taipei(24, 0, 30)))
    assert tuesday.status_code == 422
    candidates = tuesday.get_json()["error"]["details"]["candidates"]
    assert candidates and all("beyond_tomorrow" in c["reasons"] for c in candidates)


def test_a_store_closed_now_takes_an_order_for_its_opening_hours(shop: FlaskClient) -> None:
    """A supermarket closed at 03:00 refuses an order for now but takes one for 10:00; one
    whose preparation would start before it opens at 08:00 is refused with that reason."""
    now = place(shop, walk_in(SUPERMARKET, "W-1", None))
    assert now.status_code == 422
    assert "closed" in now.get_json()["error"]["details"]["candidates"][0]["reasons"]
    later = place(shop, walk_in(SUPERMARKET, "W-2", at_taipei(22, 10)))
    assert later.status_code == 201, later.get_json()
    assert later.get_json()["order"]["store_id"] == SUPERMARKET
    early = place(shop, walk_in(SUPERMARKET, "W-3", at_taipei(22, 8, 5)))
    assert early.status_code == 422
    reasons = early.get_json()["error"]["details"]["candidates"][0]["reasons"]
    assert reasons == ["closed_at_scheduled_time"]


def fill(shop: FlaskClient, store_id: str, count: int, deliver_at: str, tag: str) -> list[str]:
    ids = []
    for i in range(count):
        answer = place(shop, walk_in(store_id, f"{tag}-{i}", deliver_at))
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["order"]["id"])
    return ids


def test_capacity_is_counted_in_the_hour_slot(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """A store taking 30 orders an hour: 30 for 10:xx fill that slot (a 31st is over_capacity,
    an 11:05 one is taken), a cancelled one frees its place, and none of them takes a place
    from the orders for now."""
    store = catalogue_index_of(shop, FULIN)
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"water-600ml": 500})
    ids = fill(shop, FULIN, store.capacity_per_hour, at_taipei(22, 10, 10), "C")
    full = place(shop, walk_in(FULIN, "C-x", at_taipei(22, 10, 55)))
    assert full.status_code == 422
    assert full.get_json()["error"]["details"]["candidates"][0]["reasons"] == ["over_capacity"]
    assert place(shop, walk_in(FULIN, "C-y", at_taipei(22, 11, 5))).status_code == 201
    assert place(shop, walk_in(FULIN, "C-z", None)).status_code == 201  # for now: still room
    assert shop.post(f"/api/v1/orders/{ids[0]}/cancel").status_code == 200
    assert place(shop, walk_in(FULIN, "C-x", at_taipei(22, 10, 55))).status_code == 201


def test_orders_for_now_count_the_scheduled_ones_due_within_the_hour(
    shop: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    """A slot filled by scheduled orders: a quarter of an hour later, when they are due within
    the hour, there is no room left for an order for now (the store is busy with them); there
    was before."""
    store = catalogue_index_of(shop, FULIN)
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"water-600ml": 500})
    due = (FIXED_NOW + timedelta(minutes=70)).isoformat()
    fill(shop, FULIN, store.capacity_per_hour, due, "N")
    assert place(shop, walk_in(FULIN, "N-x", None)).status_code == 201
    later = make_app(settings, redis_client, clock=lambda: FIXED_NOW + timedelta(minutes=15))
    now = place(later.test_client(), walk_in(FULIN, "N-y", None))
    assert now.status_code == 422
    assert now.get_json()["error"]["details"]["candidates"][0]["reasons"] == ["over_capacity"]


def test_the_planner_takes_a_scheduled_order_near_its_time_as_a_window(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Not in tonight's plans; from PLANNING_LEAD before its preparation, ready when its record
    says and delivered no sooner than its window opens."""
    order = place(shop, order_body("P-1", deliver_at=at_taipei(22, 10))).get_json()["order"]
    asap = place(shop, order_body("P-2")).get_json()["order"]
    store_of = stores_of(shop)
    orders, _, _ = snapshot(redis_client, store_of=store_of, now=FIXED_NOW)
    assert [o.id for o in orders] == [asap["id"]]
    soon = datetime.fromisoformat(order["prepare_from"]) - PLANNING_LEAD
    orders, _, _ = snapshot(redis_client, store_of=store_of, now=soon)
    planned = {o.id: o for o in orders}[order["id"]]
    assert planned.ready_at == datetime.fromisoformat(order["ready_by"])
    assert planned.deliver_from == datetime.fromisoformat(order["delivery_window"]["from"])
    assert planned.promised_by == datetime.fromisoformat(order["delivery_window"]["to"])


def stores_of(shop: FlaskClient) -> Any:
    assert shop.application is not None
    with shop.application.app_context():
        index = catalogue_index()
    return index.get


def test_a_scheduled_order_is_not_rebalanced(shop: FlaskClient) -> None:
    """Re-balancing moves orders for now only: a booked slot stays where it was booked."""
    place(shop, order_body("B-1", deliver_at=at_taipei(22, 10)))
    report = shop.post("/api/v1/orders/rebalance").get_json()
    assert report["considered"] == 0


def test_the_dispatcher_sees_a_booked_order_as_scheduled(shop: FlaskClient) -> None:
    """Before the planner takes it, a scheduled order is not an unassigned alarm but
    "scheduled"; an order for now that no plan has yet is still unassigned."""
    booked = place(shop, order_body("O-1", deliver_at=at_taipei(22, 10))).get_json()["order"]
    asap = place(shop, order_body("O-2")).get_json()["order"]
    overview = shop.get("/api/v1/dispatch/overview").get_json()
    risks = {o["id"]: o["risk"] for o in overview["orders"]}
    assert risks == {booked["id"]: "scheduled", asap["id"]: "unassigned"}


def test_a_batch_takes_scheduled_orders_beside_orders_for_now(shop: FlaskClient) -> None:
    """Bulk intake: each order keeps its own deliver_at (or none)."""
    orders = [order_body("K-1", deliver_at=at_taipei(22, 11)), order_body("K-2")]
    results = shop.post("/api/v1/orders/batch", json={"orders": orders}).get_json()["results"]
    assert [r["status"] for r in results] == [201, 201]
    assert [r["order"]["deliver_at"] is not None for r in results] == [True, False]


def test_a_courier_is_planned_at_the_door_inside_the_window(
    shop: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    """Twenty minutes on, an order for 70 minutes after placing is in the plan: its drop-off
    starts inside the window, and the courier's leg says not before it opens."""
    order = place(shop, order_body("L-1", deliver_at=(FIXED_NOW + timedelta(minutes=70))
                                   .isoformat())).get_json()["order"]  # fmt: skip
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    later = make_app(settings, redis_client, clock=lambda: FIXED_NOW + timedelta(minutes=20))
    client = later.test_client()
    plan = client.post("/api/v1/dispatch/replan").get_json()["plan"]
    drop = next(s for r in plan["routes"] for s in r["stops"]
                if s["order_id"] == order["id"] and s["kind"] == "delivery")  # fmt: skip
    window = order["delivery_window"]
    start = datetime.fromisoformat(drop["start_at"])
    assert datetime.fromisoformat(window["from"]) <= start <= datetime.fromisoformat(window["to"])
    assert drop["late_s"] == 0
    legs = client.get("/api/v1/courier/legs?courier_id=c0").get_json()["legs"]
    kinds = {leg["kind"]: leg for leg in legs if leg["order_id"] == order["id"]}
    assert kinds["delivery"]["not_before"] == window["from"]
    assert kinds["pickup"]["not_before"] is None


def test_a_retry_gets_its_booked_order_even_once_the_time_is_near(
    shop: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    """Booked 65 minutes ahead; retried ten minutes later, when a new booking for that time
    would be too soon: the retry still gets its order, the new booking a 400."""
    body = order_body("Q-1", deliver_at=(FIXED_NOW + timedelta(minutes=65)).isoformat())
    first = place(shop, body, **{"Idempotency-Key": "q-1"})
    assert first.status_code == 201
    later = make_app(settings, redis_client, clock=lambda: FIXED_NOW + timedelta(minutes=10))
    retry = place(later.test_client(), body, **{"Idempotency-Key": "q-1"})
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["order"]["id"] == first.get_json()["order"]["id"]
    fresh = place(later.test_client(), body | {"external_id": "Q-2"})
    assert fresh.status_code == 400
    assert list(fresh.get_json()["error"]["details"]["fields"]) == ["deliver_at"]


def test_a_pick_up_time_has_the_goods_ready_when_its_window_opens(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """deliver_at on a pick-up is the pick-up time: ready at the counter when the window opens
    (no ride before it), never planned, and refused when the store is closed by then."""
    body = order_body("S-P1", deliver_at=at_taipei(22, 10), fulfilment="pickup",
                      store_id=SUPERMARKET)  # fmt: skip
    answer = place(shop, body)
    assert answer.status_code == 201, answer.get_json()
    order = answer.get_json()["order"]
    assert order["fulfilment"] == "pickup" and order["store_id"] == SUPERMARKET
    window = {k: datetime.fromisoformat(v) for k, v in order["delivery_window"].items()}
    assert datetime.fromisoformat(order["ready_by"]) == window["from"]
    assert "pick-up time" in order["match"]["reason"]
    assert order["id"] not in stored_orders.open_order_ids(redis_client)
    early = place(shop, order_body("S-P2", deliver_at=at_taipei(22, 8, 5), fulfilment="pickup",
                                   store_id=SUPERMARKET))  # fmt: skip
    assert early.status_code == 422
    reasons = early.get_json()["error"]["details"]["candidates"][0]["reasons"]
    assert reasons == ["closed_at_scheduled_time"]
