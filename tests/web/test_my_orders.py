"""The shopper's own orders on a real Redis: the list page by page, cancelling with a reason,
ordering again; and a store's order list page by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from tests.conftest import FIXED_NOW, bearer, keyspace, make_app, token_for
from tests.web.test_orders_api import FULIN, NEAR_FULIN, order_body, place


class Ticking:
    """A clock that moves a minute on at each reading: every order has its own time."""

    def __init__(self) -> None:
        self.at = FIXED_NOW

    def __call__(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at


@pytest.fixture
def ticking(shop: FlaskClient, settings: Settings, redis_client: redis.Redis) -> Flask:
    """The demo shop (products and stock loaded) under a clock that moves on."""
    return make_app(settings, redis_client, clock=Ticking())


def walk(client: FlaskClient, path: str, headers: dict[str, str]) -> list[list[str]]:
    """The ids of every page of a list, following next_cursor to the end."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        url = path if cursor is None else f"{path}&cursor={cursor}"
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["count"] == len(body["orders"])
        pages.append([o["id"] for o in body["orders"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not move on"


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6])
def test_a_shopper_lists_their_own_orders_newest_first(
    ticking: Flask, redis_client: redis.Redis, limit: int
) -> None:
    """Five orders of Alice's and two of Bob's: Alice's pages hold exactly hers, newest first,
    each once, full until the last; Bob sees only his."""
    client = ticking.test_client()
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    bob = bearer(token_for(redis_client, "shopper", "bob"))
    hers = [place(client, order_body(f"A-{i}"), **alice).get_json()["order"] for i in range(5)]
    his = [place(client, order_body(f"B-{i}"), **bob).get_json()["order"] for i in range(2)]
    pages = walk(client, f"/api/v1/orders?limit={limit}", alice)
    assert [i for page in pages for i in page] == [o["id"] for o in reversed(hers)]
    assert all(len(page) == limit for page in pages[:-1]) and len(pages[-1]) <= limit
    assert walk(client, "/api/v1/orders?limit=20", bob) == [[o["id"] for o in reversed(his)]]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_orders_placed_at_the_same_moment_are_each_listed_once(
    shop: FlaskClient, redis_client: redis.Redis, limit: int
) -> None:
    """Under a clock that stands still every order has the same time: the cursor still names
    one place, and no order is skipped or repeated."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    ids = {place(shop, order_body(f"T-{i}"), **alice).get_json()["order"]["id"] for i in range(5)}
    listed = [i for page in walk(shop, f"/api/v1/orders?limit={limit}", alice) for i in page]
    assert sorted(listed) == sorted(ids) and len(listed) == len(ids)


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("cursor=bm9wZQ", "cursor"),
     ("cursor=%25%25", "cursor"), ("limit=x", "limit")],
)  # fmt: skip
def test_bad_list_parameters_are_400_naming_them(
    shop: FlaskClient, redis_client: redis.Redis, query: str, field: str
) -> None:
    """A limit out of range or a cursor the list never handed out: 400 on that parameter."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    answer = shop.get(f"/api/v1/orders?{query}", headers=alice)
    assert answer.status_code == 400
    assert list(answer.get_json()["error"]["details"]["fields"]) == [field]


def test_only_a_shopper_has_a_list_of_own_orders(shop: FlaskClient) -> None:
    """No token: 401; staff: 403 (they have the store lists); an unknown parameter: 400."""
    assert shop.get("/api/v1/orders", headers={"Authorization": ""}).status_code == 401
    assert shop.get("/api/v1/orders").status_code == 403


def test_a_store_lists_its_orders_page_by_page(ticking: Flask, redis_client: redis.Redis) -> None:
    """Seven walk-ins at Fulin, two of them moved on: every page newest first, each order once;
    by status, only those, also across pages."""
    client = ticking.test_client()
    staff = bearer(token_for(redis_client, "store", FULIN))
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"water-600ml": 50})
    ids = [place(client, order_body(f"W-{i}", channel="store"), **staff).get_json()["order"]["id"]
           for i in range(7)]  # fmt: skip
    for order_id in ids[1:3]:
        client.post(f"/api/v1/orders/{order_id}/status", json={"status": "preparing"},
                    headers=staff)  # fmt: skip
    pages = walk(client, f"/api/v1/stores/{FULIN}/orders?limit=3", staff)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == list(reversed(ids))
    accepted = walk(client, f"/api/v1/stores/{FULIN}/orders?limit=2&status=accepted", staff)
    assert [i for p in accepted for i in p] == [i for i in reversed(ids) if i not in ids[1:3]]
    bad = client.get(f"/api/v1/stores/{FULIN}/orders?cursor=zz", headers=staff)
    assert bad.status_code == 400 and "cursor" in bad.get_json()["error"]["details"]["fields"]


Poster = Callable[..., Any]


def test_a_shopper_cancels_their_own_order_with_a_reason(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Alice cancels with a reason: kept on the order and its event, the stock back. Bob, for
    Alice's order: 404 and nothing changes. Once preparing: 409 too_late_to_cancel; staff may
    still cancel it."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    bob = bearer(token_for(redis_client, "shopper", "bob"))
    order = place(shop, order_body("X-1"), **alice).get_json()["order"]
    shelf = keyspace(order["store_id"])
    level = stored_orders.stock_levels(redis_client, shelf)["water-600ml"]
    path = f"/api/v1/orders/{order['id']}/cancel"
    stranger = shop.post(path, json={"reason": "mine now"}, headers=bob)
    assert stranger.status_code == 404 and "mine now" not in stranger.get_data(as_text=True)
    assert stored_orders.get_order(redis_client, order["id"]).status == "accepted"  # type: ignore[union-attr]
    done = shop.post(path, json={"reason": "ordered the wrong size"}, headers=alice)
    assert done.status_code == 200
    cancelled = done.get_json()["order"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancellation"]["reason"] == "ordered the wrong size"
    assert cancelled["cancellation"]["by"] == "shopper"
    assert "ordered the wrong size" in cancelled["events"][-1]["note"]
    assert stored_orders.stock_levels(redis_client, shelf)["water-600ml"] == level + 1
    assert stored_orders.get_order(redis_client, order["id"]).to_record() == cancelled  # type: ignore[union-attr]
    second = place(shop, order_body("X-2"), **alice).get_json()["order"]
    shop.post(f"/api/v1/orders/{second['id']}/status", json={"status": "preparing"})
    late = shop.post(f"/api/v1/orders/{second['id']}/cancel", headers=alice)  # no body at all
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "too_late_to_cancel"
    assert late.get_json()["error"]["details"]["status"] == "preparing"
    by_staff = shop.post(f"/api/v1/orders/{second['id']}/cancel", json={"reason": "out of ice"})
    assert by_staff.status_code == 200
    assert by_staff.get_json()["order"]["cancellation"]["by"] == "staff"


@pytest.mark.parametrize(
    ("body", "field"), [({"reason": "x" * 501}, "reason"), ({"reason": 7}, "reason"),
                        ({"why": "no"}, "why")],
)  # fmt: skip
def test_a_bad_cancel_body_is_a_400_naming_the_field(
    shop: FlaskClient, redis_client: redis.Redis, body: dict[str, Any], field: str
) -> None:
    """Nothing is cancelled by a body the service cannot read."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    order = place(shop, order_body("X-3"), **alice).get_json()["order"]
    answer = shop.post(f"/api/v1/orders/{order['id']}/cancel", json=body, headers=alice)
    assert answer.status_code == 400
    assert list(answer.get_json()["error"]["details"]["fields"]) == [field]
    assert stored_orders.get_order(redis_client, order["id"]).status == "accepted"  # type: ignore[union-attr]


def test_order_again(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """A new order with the same items and address; a retry with the same Idempotency-Key is
    the same order (one reservation), another key another order; Bob cannot reorder Alice's;
    a reorder may be scheduled."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    bob = bearer(token_for(redis_client, "shopper", "bob"))
    items = [{"sku": "water-600ml", "qty": 2}, {"sku": "green-tea-580ml", "qty": 1}]
    first = place(shop, order_body("R-1", items=items), **alice).get_json()["order"]
    path = f"/api/v1/orders/{first['id']}/reorder"
    again = shop.post(path, headers=alice | {"Idempotency-Key": "again-1"})
    assert again.status_code == 201, again.get_json()
    new = again.get_json()["order"]
    assert new["id"] != first["id"] and new["status"] == "accepted"
    assert new["items"] == first["items"] and new["customer"] == first["customer"]
    assert new["shopper_id"] == "alice" and new["channel"] == first["channel"]
    shelf = keyspace(new["store_id"])
    level = stored_orders.stock_levels(redis_client, shelf)["water-600ml"]
    retry = shop.post(path, headers=alice | {"Idempotency-Key": "again-1"})
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["order"]["id"] == new["id"]
    assert stored_orders.stock_levels(redis_client, shelf)["water-600ml"] == level
    other = shop.post(path, headers=alice | {"Idempotency-Key": "again-2"})
    assert other.status_code == 201 and other.get_json()["order"]["id"] != new["id"]
    assert shop.post(path, headers=bob | {"Idempotency-Key": "again-1"}).status_code == 404
    later = shop.post(path, json={"deliver_at": (FIXED_NOW + timedelta(hours=4)).isoformat()},
                      headers=alice)  # fmt: skip
    assert later.status_code == 201
    assert later.get_json()["order"]["deliver_at"] is not None
    listed = shop.get("/api/v1/orders", headers=alice).get_json()["orders"]
    placed = [first, new, other.get_json()["order"], later.get_json()["order"]]
    assert sorted(o["id"] for o in listed) == sorted(o["id"] for o in placed)
    assert shop.get("/api/v1/orders", headers=bob).get_json()["orders"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({"deliver_at": "soon"}, "deliver_at"), ({"items": []}, "items")],
)
def test_a_bad_reorder_body_is_a_400_naming_the_field(
    shop: FlaskClient, redis_client: redis.Redis, body: dict[str, Any], field: str
) -> None:
    """Only deliver_at may change on a reorder; nothing is placed for a body that is refused."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    first = place(shop, order_body("R-2"), **alice).get_json()["order"]
    answer = shop.post(f"/api/v1/orders/{first['id']}/reorder", json=body, headers=alice)
    assert answer.status_code == 400
    assert list(answer.get_json()["error"]["details"]["fields"]) == [field]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 1


def test_order_again_keeps_the_fulfilment_and_the_chosen_store(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """A pick-up at a chosen store, ordered again: a pick-up at that store, not a delivery
    from the nearest; the campaign code stays with the first order."""
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    nearest = place(shop, order_body("R-N"), **alice).get_json()["order"]["store_id"]
    near = f"lat={NEAR_FULIN['lat']}&lng={NEAR_FULIN['lng']}&partner=true&open_now=true&limit=10"
    stores = shop.get(f"/api/v1/stores/nearby?{near}").get_json()["stores"]
    others = [store["id"] for store in stores]
    chosen = next(store_id for store_id in others if store_id != nearest)
    body = order_body("R-P", fulfilment="pickup", store_id=chosen, campaign="QR-1")
    first = place(shop, body, **alice)
    assert first.status_code == 201, first.get_json()
    again = shop.post(f"/api/v1/orders/{first.get_json()['order']['id']}/reorder", headers=alice)
    assert again.status_code == 201, again.get_json()
    new = again.get_json()["order"]
    assert new["fulfilment"] == "pickup" and new["store_id"] == chosen
    assert new["campaign"] is None
