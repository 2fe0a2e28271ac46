"""The planner's snapshot: open order records and registered couriers as the planner takes them
(pure; :mod:`dispatch.storage.snapshot` reads them from Redis)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from dispatch.couriers import CourierProfile, Shift, is_planned
from dispatch.planner import CourierState, OpenOrder
from dispatch.positions import Ping, position_of
from dispatch.schedule import due_for_planning
from geo.stores import Store

Snapshot = tuple[list[OpenOrder], list[CourierState], dict[str, str]]


def planner_snapshot(
    records: Iterable[dict[str, Any]], couriers: Iterable[CourierProfile], *,
    pings: Mapping[str, Ping], pinned: Mapping[str, str], carried_by: Mapping[str, str],
    store_of: Callable[[str], Store | None], now: datetime,
) -> Snapshot:  # fmt: skip
    """Open orders and couriers on shift, as the planner takes them, plus orders it cannot plan
    (order id -> why).

    An order picked up stays with the courier in ``carried_by`` (the courier that reported the
    pick-up, else the one the last plan gave it to), and that courier is planned until it has
    delivered it, shift or not.
    """
    orders: list[OpenOrder] = []
    problems: dict[str, str] = {}
    for record in records:
        if not due_for_planning(record, now):  # booked for later: planned nearer the time
            continue
        store = store_of(record["store_id"])
        if store is None:
            problems[record["id"]] = f"store {record['store_id']} is not in the catalogue"
            continue
        pinned_to = pinned.get(record["id"])
        orders.append(
            open_order(record, store, now=now, carried_by=carried_by, pinned_to=pinned_to)
        )
    carrying = {o.picked_up_by for o in orders if o.picked_up_by is not None}
    states = [
        courier_state(c, pings, now=now, carrying=c.id in carrying)
        for c in couriers
        if is_planned(c, now=now, carrying=c.id in carrying)
    ]
    return orders, states, problems


def open_order(
    record: Mapping[str, Any], store: Store, *, now: datetime, carried_by: Mapping[str, str],
    pinned_to: str | None,
) -> OpenOrder:  # fmt: skip
    """An open order's record as the planner takes it: ready a preparation time after it was
    placed, or a scheduled one when its record says (``ready_by``), delivered no sooner than its
    window opens (see :mod:`dispatch.schedule`)."""
    created = datetime.fromisoformat(record["created_at"])
    ready_at = created + timedelta(seconds=store.prep_time_s)
    deliver_from = None
    if record.get("ready_by"):
        ready_at = max(ready_at, datetime.fromisoformat(record["ready_by"]))
        deliver_from = datetime.fromisoformat(record["delivery_window"]["from"])
    if record["status"] in ("ready", "picked_up"):
        ready_at = min(ready_at, now)
    picked_by = carried_by.get(record["id"]) if record["status"] == "picked_up" else None
    customer = record["customer"]
    return OpenOrder(
        record["id"], (store.lat, store.lng), (customer["lat"], customer["lng"]),
        ready_at=ready_at, promised_by=datetime.fromisoformat(record["promised_by"]),
        size=1, picked_up_by=picked_by, pinned_to=pinned_to, deliver_from=deliver_from,
    )  # fmt: skip


def courier_state(
    courier: CourierProfile, pings: Mapping[str, Ping], *, now: datetime, carrying: bool = False
) -> CourierState:
    """A registered courier as the planner takes it now: where it is, in the shift it is in."""
    shift = courier.shift_around(now, carrying=carrying) or Shift(
        courier.shift_start, courier.shift_end)  # fmt: skip
    return CourierState(
        courier.id, position_of(courier, pings), courier.vehicle, courier.capacity,
        shift_end=shift.end, available_at=max(now, shift.start),
    )  # fmt: skip
