"""The planner's snapshot, from records (no Redis): which orders and couriers it takes, when an
order is ready, who carries what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatch.positions import Ping
from dispatch.schedule import PLANNING_LEAD
from dispatch.snapshot import planner_snapshot
from geo.stores import Store
from tests.conftest import FIXED_NOW
from tests.dispatch.test_couriers import courier

HOUR = timedelta(hours=1)
STORE = Store("s1", "Corner", "Brand", "convenience", True, 24.15, 120.65, prep_time_s=300)


def record(order_id: str, status: str = "accepted", **more: Any) -> dict[str, Any]:
    created = FIXED_NOW - timedelta(minutes=2)
    return {"id": order_id, "store_id": "s1", "status": status, "created_at": created.isoformat(),
            "promised_by": (created + HOUR).isoformat(),
            "customer": {"lat": 24.16, "lng": 120.66}} | more  # fmt: skip


def take(records: list[dict[str, Any]], **given: Any) -> Any:
    options: dict[str, Any] = {"pings": {}, "pinned": {}, "carried_by": {},
                               "store_of": {"s1": STORE}.get, "now": FIXED_NOW}  # fmt: skip
    return planner_snapshot(records, given.pop("couriers", [courier("c1")]), **options | given)


def test_an_order_is_ready_a_preparation_after_it_was_placed_or_now_once_ready() -> None:
    orders, couriers, problems = take([record("o1"), record("o2", "ready")])
    ready = {o.id: o.ready_at for o in orders}
    assert ready["o1"] == FIXED_NOW - timedelta(minutes=2) + timedelta(seconds=300)
    assert ready["o2"] == FIXED_NOW
    assert orders[0].store == (STORE.lat, STORE.lng) and orders[0].customer == (24.16, 120.66)
    assert [c.id for c in couriers] == ["c1"] and problems == {}


def test_an_order_of_a_store_no_longer_listed_is_a_problem_not_an_order() -> None:
    orders, _, problems = take([record("o1", store_id="gone")])
    assert orders == [] and problems == {"o1": "store gone is not in the catalogue"}


def test_an_order_booked_for_later_waits_until_its_planning_lead() -> None:
    later = FIXED_NOW + PLANNING_LEAD + HOUR
    booked = record("o1", prepare_from=later.isoformat())
    assert take([booked])[0] == []
    orders, _, _ = take([booked], now=later - PLANNING_LEAD)
    assert [o.id for o in orders] == ["o1"]


def test_an_order_on_board_keeps_its_courier_past_the_shift() -> None:
    """Picked up: only its carrier delivers it, and the carrier is planned in overtime; a pin
    is passed on; the courier is where its last fix says."""
    after_shift = FIXED_NOW + 5 * HOUR  # the test courier's shift ends at FIXED_NOW + 4 h
    on_board = record("o1", "picked_up")
    fix = {"c1": Ping(24.17, 120.67, FIXED_NOW)}
    orders, couriers, _ = take([on_board, record("o2")], now=after_shift, pings=fix,
                               carried_by={"o1": "c1"}, pinned={"o2": "c2"})  # fmt: skip
    assert {o.id: (o.picked_up_by, o.pinned_to) for o in orders} == {
        "o1": ("c1", None), "o2": (None, "c2")}  # fmt: skip
    assert [(c.id, c.position) for c in couriers] == [("c1", (24.17, 120.67))]
    _, idle, _ = take([record("o2")], now=after_shift)
    assert idle == []  # nothing on board: off shift, not planned


def test_a_carrier_is_only_named_for_an_order_picked_up() -> None:
    orders, _, _ = take([record("o1", "ready")], carried_by={"o1": "c1"})
    assert orders[0].picked_up_by is None
