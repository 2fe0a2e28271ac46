"""The plan in force as GeoJSON for maps (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dispatch.couriers import CourierProfile
from dispatch.plans import StoredRoute
from dispatch.positions import Ping, position_of


def plan_to_geojson(
    routes: Iterable[StoredRoute], couriers: Sequence[CourierProfile], pings: Mapping[str, Ping]
) -> dict[str, Any]:
    """The routes as GeoJSON: one LineString per courier route, from where the courier is."""
    by_id = {c.id: c for c in couriers}
    features = []
    for route in routes:
        if not route.stops:
            continue
        courier = by_id.get(route.courier_id)
        start = [position_of(courier, pings)] if courier else []
        line = [[lng, lat] for lat, lng in start] + [[s.lng, s.lat] for s in route.stops]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {"courier_id": route.courier_id, "stops": len(route.stops),
                           "late_orders": sum(1 for s in route.stops if s.late_s > 0)},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}
