"""The nearby search's delivers_to filter and the stores' zones, over the demo catalogue."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from geo.distance import haversine_m
from geo.stores import Store

FULIAN_FAMILYMART = "osm-node-3559052343"  # zoned: the Fu quarter south of Fuke Road
INSIDE = (24.1850, 120.6090)  # south of Fuke Road, in the quarter
ACROSS_FUKE_ROAD = (24.1878091, 120.6064508)  # the FamilyMart on Furui Street, 270 m away


def nearby(client: FlaskClient, **params: Any) -> Any:
    response = client.get("/api/v1/stores/nearby", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_delivers_to_keeps_exactly_the_stores_that_deliver_there(
    client: FlaskClient, demo_stores: list[Store]
) -> None:
    """The zoned FamilyMart is listed for a door in its quarter and not across Fuke Road; every
    other store listed delivers there by its radius, and none that does is left out."""
    for door, listed in ((INSIDE, True), (ACROSS_FUKE_ROAD, False)):
        body = nearby(client, lat=door[0], lng=door[1], radius_m=5000, limit=200,
                      delivers_to=f"{door[0]},{door[1]}")  # fmt: skip
        ids = [s["id"] for s in body["stores"]]
        assert (FULIAN_FAMILYMART in ids) is listed
        expected = sorted(
            (round(haversine_m(door[0], door[1], s.lat, s.lng), 2), s.id)
            for s in demo_stores
            if s.delivers_to(*door) and haversine_m(door[0], door[1], s.lat, s.lng) <= 5000
        )
        assert ids == [store_id for _, store_id in expected]
    plain = nearby(client, lat=ACROSS_FUKE_ROAD[0], lng=ACROSS_FUKE_ROAD[1], limit=200)
    zoned = next(s for s in plain["stores"] if s["id"] == FULIAN_FAMILYMART)
    assert zoned["delivery_zone"]["type"] == "Polygon"
    assert all(s["delivery_zone"] is None for s in plain["stores"] if s["id"] != zoned["id"])


@pytest.mark.parametrize("value", ["24.18", "24.18,120.6,1", "north,120.6", "91,120.6",
                                   "24.18,181", "1e400,0"])  # fmt: skip
def test_a_bad_delivers_to_is_a_400_naming_it(client: FlaskClient, value: str) -> None:
    """Not two numbers, or out of range: a 400 whose details name delivers_to."""
    query = {"lat": 24.18, "lng": 120.6, "delivers_to": value}
    response = client.get("/api/v1/stores/nearby", query_string=query)
    assert response.status_code == 400
    assert "delivers_to" in response.get_json()["error"]["details"]["fields"]


def test_orders_reach_the_zoned_store_only_from_inside_its_zone(
    shop: FlaskClient, demo_stores: list[Store]
) -> None:
    """A door in the quarter, next to the zoned FamilyMart, gets it; every door of a ring
    around it outside the zone gets another store (the zone, not the distance, decides)."""

    def placed_at(i: int, lat: float, lng: float) -> str:
        body = {"channel": "app", "external_id": f"zone-{i}", "lat": lat, "lng": lng,
                "items": [{"sku": "water-600ml", "qty": 1}]}  # fmt: skip
        response = shop.post("/api/v1/orders", json=body)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["order"]["store_id"])

    assert placed_at(0, 24.18520, 120.60770) == FULIAN_FAMILYMART
    outside = [(24.18790, 120.60760), (24.18790, 120.60600), (24.18340, 120.60760),
               (24.18600, 120.60330), (24.18500, 120.61350)]  # fmt: skip
    zoned = next(s for s in demo_stores if s.id == FULIAN_FAMILYMART)
    for i, (lat, lng) in enumerate(outside, start=1):
        assert not zoned.delivers_to(lat, lng)
        assert haversine_m(lat, lng, zoned.lat, zoned.lng) < zoned.delivery_radius_m
        assert placed_at(i, lat, lng) != FULIAN_FAMILYMART
