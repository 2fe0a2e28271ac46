"""Shoppers' tracking links: the signed link opens its one order; anything else is a 404."""

from __future__ import annotations

from flask.testing import FlaskClient

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
