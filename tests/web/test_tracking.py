"""Shoppers' tracking links: the signed link opens its one order; anything else is a 404."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body

ANONYMOUS = {"Authorization": ""}


def test_a_link_opens_its_order_and_nothing_else(shop: FlaskClient) -> None:
    placed = shop.post("/api/v1/orders", json=order_body("TR-1")).get_json()
    other = shop.post("/api/v1/orders", json=order_body("TR-2")).get_json()
    token = placed["tracking"]["token"]
    view = shop.get(f"/api/v1/track/{token}", headers=ANONYMOUS)
    assert view.status_code == 200
    assert view.get_json()["order"]["id"] == placed["order"]["id"]
    assert "customer" not in view.get_json()["order"]  # the shopper's address is not in the link
    signature = token.rpartition(".")[2]
    forged = [
        f"{other['order']['id']}.{signature}",  # another order with this order's signature
        token[:-1] + ("0" if token[-1] != "0" else "1"),  # one character changed
        placed["order"]["id"],  # no signature at all
        "ord_nope.0123456789abcdef0123456789abcdef",
        ".",
        "ordé.ñ",  # not ASCII
    ]
    for bad in forged:
        for path in (f"/api/v1/track/{bad}", f"/track/{bad}"):
            response = shop.get(path, headers=ANONYMOUS)
            assert response.status_code == 404, (path, response.status_code)
            assert response.get_json()["error"]["code"] == "tracking_not_found"


def test_the_view_has_steps_items_store_and_an_approximate_destination(shop: FlaskClient) -> None:
    """Steps done and to come, item names, the store's address and zone, the drop-off only to
    about 100 m, and whether the shopper may still cancel."""
    placed = shop.post("/api/v1/orders", json=order_body("TR-3")).get_json()
    token = placed["tracking"]["token"]
    view = shop.get(f"/api/v1/track/{token}", headers=ANONYMOUS).get_json()
    assert [s["status"] for s in view["order"]["steps"]] == [
        "accepted", "preparing", "ready", "picked_up", "delivered"
    ]  # fmt: skip
    assert view["order"]["steps"][0]["at"] and view["order"]["steps"][1]["at"] is None
    water = {"sku": "water-600ml", "qty": 1, "name": "Mineral water 600 ml"}
    assert view["order"]["items"] == [water]
    assert view["store"]["address"] and view["store"]["timezone"] == "Asia/Taipei"
    exact = placed["order"]["customer"]
    assert view["destination"] == {"lat": round(exact["lat"], 3), "lng": round(exact["lng"], 3)}
    assert view["order"]["can_cancel"] is True
    assert shop.get(f"/api/v1/track/{token}?debug=1").status_code == 400


def test_the_link_cancels_until_the_store_starts(shop: FlaskClient) -> None:
    """Cancel by the link while accepted (stock back, as the shopper's own cancel); once the
    store is preparing, a 409 too_late_to_cancel that changes nothing."""
    first = shop.post("/api/v1/orders", json=order_body("TR-4")).get_json()
    stock = f"/api/v1/stores/{first['order']['store_id']}/stock"
    before = shop.get(stock).get_json()["stock"]["water-600ml"]
    answer = shop.post(f"/api/v1/track/{first['tracking']['token']}/cancel", headers=ANONYMOUS)
    assert answer.status_code == 200
    view = answer.get_json()
    assert view["order"]["status"] == "cancelled" and view["order"]["can_cancel"] is False
    assert [s["status"] for s in view["order"]["steps"]] == ["accepted", "cancelled"]
    assert shop.get(stock).get_json()["stock"]["water-600ml"] == before + 1
    again = shop.post(f"/api/v1/track/{first['tracking']['token']}/cancel", headers=ANONYMOUS)
    assert again.status_code == 409

    second = shop.post("/api/v1/orders", json=order_body("TR-5")).get_json()
    order_id = second["order"]["id"]
    shop.post(f"/api/v1/orders/{order_id}/status", json={"status": "preparing"})
    late = shop.post(f"/api/v1/track/{second['tracking']['token']}/cancel", headers=ANONYMOUS)
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "too_late_to_cancel"
    assert shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]["status"] == "preparing"
    forged = shop.post(f"/api/v1/track/{order_id}.0123456789abcdef0123456789abcdef/cancel",
                       headers=ANONYMOUS)  # fmt: skip
    assert forged.status_code == 404


def test_an_ended_order_has_no_courier_or_arrival(shop: FlaskClient) -> None:
    """Once cancelled (or delivered) the link names no courier and no arrival, even while the
    last plan, made before, still routes the order."""
    placed = shop.post("/api/v1/orders", json=order_body("TR-6")).get_json()
    shop.post("/api/v1/couriers", json=courier_body("k6"))
    shop.post("/api/v1/dispatch/replan")
    token = placed["tracking"]["token"]
    planned = shop.get(f"/api/v1/track/{token}", headers=ANONYMOUS).get_json()
    assert planned["courier"]["assigned"] is True and planned["estimated_arrival"]
    cancelled = shop.post(f"/api/v1/track/{token}/cancel", headers=ANONYMOUS).get_json()
    assert cancelled["courier"] == {"assigned": False, "position": None}
    assert cancelled["estimated_arrival"] is None
