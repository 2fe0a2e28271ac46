"""Web fixtures shared by the dispatch, courier and role tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import FIXED_NOW
from tests.web.test_orders_api import order_body, place

SPOTS = [
    (24.1800, 120.5930), (24.1880, 120.5940), (24.1850, 120.6100), (24.1820, 120.6070),
    (24.1870, 120.6000), (24.1810, 120.6010), (24.1860, 120.6120), (24.1840, 120.5960),
]  # fmt: skip


def courier_body(courier_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "id": courier_id, "name": f"Courier {courier_id}", "vehicle": "e-bike", "capacity": 3,
        "shift_start": (FIXED_NOW - timedelta(hours=1)).isoformat(),
        "shift_end": (FIXED_NOW + timedelta(hours=4)).isoformat(),
        "home": {"lat": 24.184, "lng": 120.602},
    }  # fmt: skip
    return body | changes


@pytest.fixture
def day(shop: FlaskClient) -> tuple[FlaskClient, list[str]]:
    """Three couriers on shift and eight orders around Taichung."""
    for k in range(3):
        assert shop.post("/api/v1/couriers", json=courier_body(f"c{k}")).status_code == 201
    ids = []
    for i, (lat, lng) in enumerate(SPOTS):
        response = place(shop, order_body(f"D-{i}", lat=lat, lng=lng))
        assert response.status_code == 201
        ids.append(response.get_json()["order"]["id"])
    return shop, ids
