"""What a dispatcher's screen shows: each order's risk of missing its promise, and the day's KPIs.

Pure: it reads open orders' records as stored, the plan's routes, today's orders as values,
and the clock.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from dispatch.orders import Order, arrived_at, on_time
from dispatch.plans import StoredRoute, StoredStop, delivery_stops

AT_RISK_S = 600  # planned to arrive less than 10 minutes before the promise


def order_risks(
    orders: Iterable[Mapping[str, Any]], routes: Iterable[StoredRoute],
    unassigned: Collection[str] = (),
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per open order: its courier, planned delivery and risk (on_track, at_risk, late,
    unassigned, or scheduled: booked for later, not yet taken by the planner); ``unassigned``:
    the orders the plan left out."""
    planned = delivery_stops(routes)
    risks: dict[str, dict[str, Any]] = {}
    for order in orders:
        courier: str | None = None
        stop: StoredStop | None = None
        courier, stop = planned.get(order["id"], (None, None))
        if stop is None:
            booked = order.get("deliver_at") and order["status"] == "accepted"
            unplanned = order["id"] in unassigned
            risk, arrival = "scheduled" if booked and not unplanned else "unassigned", None
        else:
            arrival = stop.start_at.isoformat()
            slack = (datetime.fromisoformat(order["promised_by"]) - stop.start_at).total_seconds()
            risk = "late" if slack < 0 else "at_risk" if slack < AT_RISK_S else "on_track"
        risks[order["id"]] = {"courier_id": courier, "planned_delivery": arrival, "risk": risk}
    return risks


def code_lock_alarms(
    orders: Iterable[Mapping[str, Any]], locks: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """An alarm per open order whose delivery wrong codes locked, oldest first: someone may be
    guessing at the door, or the shopper gave a wrong code; a dispatcher checks and unlocks."""
    alarms = [
        {"kind": "delivery_code_locked", "order_id": order["id"],
         "courier_id": lock.get("courier_id"), "wrong_tries": lock.get("wrong_tries"),
         "at": lock.get("at"),
         "message": f"{lock.get('wrong_tries')} wrong delivery codes: delivery locked; check "
                    f"with the shopper, then POST /api/v1/orders/{order['id']}/unlock-code"}
        for order in orders
        if (lock := locks.get(order["id"])) is not None
    ]  # fmt: skip
    return sorted(alarms, key=lambda alarm: str(alarm["at"]))


def day_kpis(
    today: Sequence[Order],
    open_count: int,
    busy: int,
    idle: int,
) -> dict[str, Any]:
    """Orders open, on-time share and mean click-to-door of today's deliveries, couriers."""
    minutes, kept = [], 0
    for order in today:
        if order.request.fulfilment != "delivery" or (done := arrived_at(order)) is None:
            continue
        minutes.append((done - order.created_at).total_seconds() / 60)
        kept += bool(on_time(order))
    return {
        "orders_open": open_count,
        "orders_today": len(today),
        "delivered_today": len(minutes),
        "on_time_share_today": kept / len(minutes) if minutes else None,
        "mean_click_to_door_min_today": statistics.mean(minutes) if minutes else None,
        "couriers_busy": busy,
        "couriers_idle": idle,
    }
