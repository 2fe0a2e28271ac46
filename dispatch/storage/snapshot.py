"""The planner's snapshot read from Redis: open orders, pins, carriers, couriers, positions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis

from dispatch.plans import routes_of
from dispatch.snapshot import Snapshot, planner_snapshot
from dispatch.storage import orders as stored_orders
from dispatch.storage.couriers import carriers, load_couriers
from dispatch.storage.pins import pins
from dispatch.storage.plans import current_plan
from dispatch.storage.positions import positions
from geo.stores import Store


def snapshot(
    client: redis.Redis, *, store_of: Callable[[str], Store | None], now: datetime
) -> Snapshot:
    """Open orders and couriers on shift, as the planner takes them, plus orders it cannot plan
    (see :func:`dispatch.snapshot.planner_snapshot`)."""
    carried_by = carriers_of_record(client)
    pinned = pins(client)
    records = [order.to_record() for order in stored_orders.open_orders(client)]
    return planner_snapshot(
        records, load_couriers(client), pings=positions(client), pinned=pinned,
        carried_by=carried_by, store_of=store_of, now=now,
    )  # fmt: skip


def carriers_of_record(client: redis.Redis) -> dict[str, str]:
    """Order id -> the courier holding it: the phone's pick-up report, else the last plan."""
    planned = {s.order_id: r.courier_id for r in routes_of(current_plan(client)) for s in r.stops}
    return planned | carriers(client)
