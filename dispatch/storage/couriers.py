"""Registered couriers, and who carries what, in Redis.

Keys: ``couriers`` (hash courier id -> the profile's JSON) and, in each orders' region (see
:mod:`dispatch.order_store`), written with the order's status: ``carried:{region}`` (order id ->
the courier that picked it up, from its phone).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from dispatch import order_store
from dispatch.couriers import CourierProfile
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.pins import pins
from dispatch.storage.plans import current_plan
from dispatch.storage.replies import text_hash

COURIERS_KEY = "couriers"

Fields = dict[str, dict[str, str]]  # hash key -> fields, written with an order's status change


def save_courier(client: redis.Redis, courier: CourierProfile) -> None:
    client.hset(COURIERS_KEY, courier.id, json.dumps(courier.to_record(), ensure_ascii=False))


def load_couriers(client: redis.Redis) -> list[CourierProfile]:
    raw: Any = client.hgetall(COURIERS_KEY)
    return sorted(
        (CourierProfile.from_record(json.loads(v)) for v in raw.values()), key=lambda c: c.id
    )


def load_courier(client: redis.Redis, courier_id: str) -> CourierProfile | None:
    raw: Any = client.hget(COURIERS_KEY, courier_id)
    return None if raw is None else CourierProfile.from_record(json.loads(raw))


def change_courier(
    client: redis.Redis, courier_id: str, change: Callable[[CourierProfile], CourierProfile]
) -> CourierProfile | None:
    """Apply ``change`` to the stored courier atomically (retried if another write came first);
    None if there is no such courier. ``change`` may raise to refuse: nothing is written."""
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(COURIERS_KEY)  # type: ignore[no-untyped-call]
                raw: Any = pipe.hget(COURIERS_KEY, courier_id)
                if raw is None:
                    return None
                courier = change(CourierProfile.from_record(json.loads(raw)))
                pipe.multi()
                pipe.hset(COURIERS_KEY, courier_id,
                          json.dumps(courier.to_record(), ensure_ascii=False))  # fmt: skip
                pipe.execute()
                return courier
            except redis.WatchError:
                continue


def carried_key(region: str) -> str:
    """Hash of order id -> the courier that picked it up, for the orders of ``region``."""
    return f"carried:{{{region}}}"


def picked_up_fields(order_id: str, courier_id: str) -> Fields:
    """What a pick-up records beside the order's status: who has the order on board."""
    return {carried_key(order_store.region_of_order(order_id)): {order_id: courier_id}}


def carriers(client: redis.Redis) -> dict[str, str]:
    """Order id -> the courier that reported picking it up."""
    pipe = client.pipeline(transaction=False)
    for region in order_keys.order_regions(client):
        pipe.hgetall(carried_key(region))
    return {k: v for raw in pipe.execute() for k, v in text_hash(raw).items()}


def carried_by(client: redis.Redis, courier_id: str) -> list[str]:
    """The open orders this courier has picked up and not yet delivered."""
    on_board = {o for o, c in carriers(client).items() if c == courier_id}
    return sorted(order.id for order in stored_orders.open_orders(client)
                  if order.id in on_board and order.status == "picked_up")  # fmt: skip


def courier_orders(client: redis.Redis, courier_id: str) -> set[str]:
    """The orders that are this courier's business: planned for it, pinned to it, or on board."""
    plan = current_plan(client)
    route = None if plan is None else plan.route_of(courier_id)
    mine = {s.order_id for s in route.stops} if route else set()
    mine |= {o for o, c in pins(client).items() if c == courier_id}
    mine |= {o for o, c in carriers(client).items() if c == courier_id}
    return mine
