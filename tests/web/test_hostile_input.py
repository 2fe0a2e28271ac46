"""Junk at every write endpoint: always a 4xx JSON error, never a 500, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from dispatch import order_store
from tests.conftest import slot

JUNK: list[Any] = [
    None, [], "text", 42, {"": None}, {"items": [[1, 2]]}, {"items": [{"sku": None, "qty": "1"}]},
    {"lat": [24.1], "lng": {"x": 1}}, {"status": ["ready"]}, {"courier_id": 7},
    {"orders": [None, 1, "x"]}, {"mode": "set", "items": [{"sku": "apple", "qty": 10**30}]},
    {"id": "c", "vehicle": "car", "capacity": 2, "shift_start": "2026-01-01T00:00:00+00:00",
     "shift_end": "garbage", "home": [1, 2]},
]  # fmt: skip
ENDPOINTS = [
    "/api/v1/orders",
    "/api/v1/orders/batch",
    "/api/v1/orders/nope/status",
    "/api/v1/stores/osm-way-617553270/stock",
    "/api/v1/couriers",
    "/api/v1/couriers/nope/position",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_junk_bodies_are_refused_cleanly(
    shop: FlaskClient, redis_client: redis.Redis, path: str
) -> None:
    """Every junk body gets a 4xx JSON error; no order, stock change or courier appears."""
    before = order_store.stock_levels(redis_client, slot("osm-way-617553270"))
    for body in JUNK:
        response = shop.post(path, json=body)
        if path.endswith("/batch") and response.status_code == 200:
            # a well-formed envelope of junk orders: each one is refused in its place
            results = response.get_json()["results"]
            assert results and all(400 <= r["status"] < 500 for r in results)
            continue
        assert 400 <= response.status_code < 500, (path, body, response.status_code)
        assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert redis_client.xlen(order_store.ORDER_STREAM) == 0
    assert order_store.stock_levels(redis_client, slot("osm-way-617553270")) == before
    assert not redis_client.exists("couriers")


def test_pins_with_junk(shop: FlaskClient) -> None:
    """Pins need a JSON object naming a known courier."""
    for body in JUNK:
        response = shop.put("/api/v1/dispatch/pins/nope", json=body)
        assert 400 <= response.status_code < 500
