"""Matching and the batch matcher respect a store's delivery zone exactly, not its radius."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.batch_matching import BatchOrder, BatchStore, batch_match
from dispatch.matching import StoreSituation, rank_stores
from dispatch.orders import OrderLine, OrderRequest
from geo.stores import Store
from geo.travel import StraightLineTravel

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=UTC)  # Wednesday 12:00 in Taipei
TRAVEL = StraightLineTravel()
LAT, LNG = 24.1853, 120.6076
WEST, SOUTH, EAST, NORTH = LNG - 0.004, LAT - 0.0015, LNG + 0.004, LAT + 0.002
ZONE = json.dumps({"type": "Polygon", "coordinates": [[[WEST, SOUTH], [EAST, SOUTH],
                                                       [EAST, NORTH], [WEST, NORTH],
                                                       [WEST, SOUTH]]]})  # fmt: skip
ZONED = Store(id="zoned", name="Z", brand="B", kind="convenience", partner=True, lat=LAT,
              lng=LNG, opening_hours="24/7", timezone="Asia/Taipei", delivery_radius_m=3000.0,
              delivery_zone=ZONE)  # fmt: skip
PLAIN = replace(ZONED, id="plain", lat=LAT + 0.006, delivery_zone=None)  # 3 km radius
STOCK = {"milk": 10}


def request(lat: float, lng: float, external_id: str = "x") -> OrderRequest:
    return OrderRequest("app", external_id, lat, lng, "door", (OrderLine("milk", 1),))


def rank(order: OrderRequest):  # type: ignore[no-untyped-def]
    situations = [StoreSituation(ZONED, STOCK, 0), StoreSituation(PLAIN, STOCK, 0)]
    return rank_stores(order, situations, now=NOW, travel=TRAVEL, vehicle="e-bike",
                       pickup_allowance_s=300)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(dy=st.floats(-0.006, 0.006), dx=st.floats(-0.008, 0.008))
def test_inside_the_zone_is_matched_and_outside_never(dy: float, dx: float) -> None:
    """A door inside the polygon (edge included) can be served by the zoned store; a door
    outside it never, although it is well inside the store's 3 km radius."""
    lat, lng = LAT + dy, LNG + dx
    ranking = rank(request(lat, lng))
    feasible = {c.store.id for c in ranking.feasible}
    inside = WEST <= lng <= EAST and SOUTH <= lat <= NORTH
    assert ("zoned" in feasible) is inside
    if not inside:
        (rejected,) = [r for r in ranking.rejected if r.store_id == "zoned"]
        assert rejected.reasons == ("outside_delivery_zone",)
    assert "plain" in feasible  # the radius store next to it still covers all of these


def test_the_radius_reason_stays_for_a_store_without_zone() -> None:
    """Beyond its radius, a store without a zone says outside_delivery_radius as before."""
    ranking = rank(request(LAT + 0.006 + 0.03, LNG))  # 3.3 km north of the plain store
    reasons = {r.store_id: r.reasons for r in ranking.rejected}
    assert "outside_delivery_radius" in reasons["plain"]
    assert "outside_delivery_zone" in reasons["zoned"]


@settings(max_examples=40, deadline=None)
@given(doors=st.lists(st.tuples(st.floats(-0.006, 0.006), st.floats(-0.008, 0.008)),
                      min_size=1, max_size=12))  # fmt: skip
def test_the_batch_matcher_never_sends_an_order_outside_a_zone(
    doors: list[tuple[float, float]],
) -> None:
    """Orders placed together (the options come from ranking): every order at the zoned store
    has its door inside the zone, and only the plain store's capacity limits the rest."""
    orders = []
    for i, (dy, dx) in enumerate(doors):
        ranking = rank(request(LAT + dy, LNG + dx, f"o{i}"))
        options = tuple((c.store.id, c.ride_s) for c in ranking.feasible)
        orders.append(BatchOrder(f"o{i}", {"milk": 1}, options))
    stores = [BatchStore("zoned", 20, STOCK), BatchStore("plain", 3, STOCK)]
    plan = batch_match(orders, stores, time_limit_s=2.0)
    for i, (dy, dx) in enumerate(doors):
        lat, lng = LAT + dy, LNG + dx
        if plan.assignment.get(f"o{i}") == "zoned":
            assert WEST <= lng <= EAST and SOUTH <= lat <= NORTH
    outside = sum(1 for dy, dx in doors
                  if not (WEST <= LNG + dx <= EAST and SOUTH <= LAT + dy <= NORTH))  # fmt: skip
    assert len(plan.unmatched) == max(0, outside - 3)
