"""The plan in force as GeoJSON: a line per courier with stops, from where the courier is."""

from __future__ import annotations

from dispatch.geojson import plan_to_geojson
from dispatch.plans import StoredRoute, StoredStop
from dispatch.positions import Ping
from tests.conftest import FIXED_NOW
from tests.dispatch.test_couriers import courier


def stop(order_id: str, kind: str, lat: float, lng: float, late_s: int = 0) -> StoredStop:
    return StoredStop(order_id, kind, lat, lng, FIXED_NOW, FIXED_NOW, FIXED_NOW, late_s)


def test_a_line_per_busy_courier_in_lng_lat_order() -> None:
    routes = (
        StoredRoute("c1", (stop("o1", "pickup", 24.1, 120.6),
                           stop("o1", "delivery", 24.2, 120.7, 30))),
        StoredRoute("c2", ()),  # idle: no line
        StoredRoute("gone", (stop("o2", "delivery", 24.3, 120.8),)),  # not registered: no start
    )  # fmt: skip
    pings = {"c1": Ping(24.0, 120.5, FIXED_NOW)}
    collection = plan_to_geojson(routes, [courier("c1"), courier("c2")], pings)
    assert collection["type"] == "FeatureCollection"
    lines = {f["properties"]["courier_id"]: f for f in collection["features"]}
    assert set(lines) == {"c1", "gone"}
    assert lines["c1"]["geometry"]["coordinates"] == [[120.5, 24.0], [120.6, 24.1], [120.7, 24.2]]
    assert lines["c1"]["properties"] == {"courier_id": "c1", "stops": 2, "late_orders": 1}
    assert lines["gone"]["geometry"]["coordinates"] == [[120.8, 24.3]]


def test_a_courier_never_heard_from_starts_at_home() -> None:
    profile = courier("c1")
    routes = (StoredRoute("c1", (stop("o1", "delivery", 24.2, 120.7),)),)
    line = plan_to_geojson(routes, [profile], {})["features"][0]["geometry"]["coordinates"]
    assert line[0] == [profile.home_lng, profile.home_lat]
