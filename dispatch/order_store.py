"""Orders, products and stock in Redis (the edge of ``dispatch``: all I/O lives here).

Keys: ``products`` (hash sku -> JSON), ``stock:{store}`` (hash sku -> on-hand qty),
``capacity:{store}`` (zset of the last hour's order ids by time), ``order:{id}`` (JSON),
``store-orders:{store}`` (zset of order ids by time), ``orders:accepted`` (zset of the orders
not yet being prepared, which re-balancing may move), ``idem:*`` (idempotency: order id and body
hash), and the stream ``orders:stream`` that the dispatch planner consumes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from dispatch.orders import RELEASES_STOCK_FROM, TRANSITIONS, Order, check_transition
from dispatch.products import Product

PRODUCTS_KEY = "products"
ORDER_STREAM = "orders:stream"
ACCEPTED_KEY = "orders:accepted"  # zset of orders not yet being prepared, by creation time
OPEN_KEY = "orders:open"  # zset of orders not yet delivered, cancelled or failed: to plan

# Every check happens before the first write, so a refusal leaves no trace; Redis runs the
# script alone, so two shoppers racing for the last unit cannot both pass the stock check.
# Idempotency keys live 30 days: far longer than any channel retries, not forever.
_PLACE_ORDER = """
for i = 8, #KEYS do
  local seen = redis.call('GET', KEYS[i])
  if seen then return {'duplicate', seen} end
end
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {'over_capacity'} end
local lines = tonumber(ARGV[7])
local missing = {}
for i = 0, lines - 1 do
  local have = tonumber(redis.call('HGET', KEYS[1], ARGV[8 + 2 * i]) or '0')
  if have < tonumber(ARGV[9 + 2 * i]) then missing[#missing + 1] = ARGV[8 + 2 * i] end
end
if #missing > 0 then return {'out_of_stock', unpack(missing)} end
for i = 0, lines - 1 do
  redis.call('HINCRBY', KEYS[1], ARGV[8 + 2 * i], -tonumber(ARGV[9 + 2 * i]))
end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('ZADD', KEYS[7], now, ARGV[1])
for i = 8, #KEYS do redis.call('SET', KEYS[i], ARGV[5], 'EX', 2592000) end
redis.call('XADD', KEYS[5], '*', 'order_id', ARGV[1], 'store_id', ARGV[6])
return {'ok'}
"""

# Adjustments apply whole or not at all: none may take a level below zero.
_ADJUST_STOCK = """
for i = 1, #ARGV, 2 do
  local have = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if have + tonumber(ARGV[i + 1]) < 0 then return {'negative', ARGV[i]} end
end
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {'ok'}
"""


class OrderNotFoundError(KeyError):
    """No order with that id."""


class NegativeStockError(ValueError):
    """An adjustment would take a stock level below zero."""


@dataclass(frozen=True, slots=True)
class Placement:
    """How an attempt to place an order at one store ended."""

    outcome: str  # ok | duplicate | out_of_stock | over_capacity
    missing_skus: tuple[str, ...] = ()
    existing_order_id: str | None = None
    existing_body_hash: str | None = None


def stock_key(store_id: str) -> str:
    return f"stock:{store_id}"


def capacity_key(store_id: str) -> str:
    return f"capacity:{store_id}"


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def store_orders_key(store_id: str) -> str:
    return f"store-orders:{store_id}"


def idempotency_keys(channel: str, external_id: str, header_key: str | None) -> list[str]:
    keys = [f"idem:channel:{channel}:{external_id}"]
    if header_key:
        keys.append(f"idem:key:{header_key}")
    return keys


# -- products and stock -------------------------------------------------------------------------


def save_products(client: redis.Redis, products: Iterable[Product]) -> int:
    """Replace the product catalogue in one transaction; return how many products it has."""
    mapping = {p.sku: json.dumps(p.to_record(), ensure_ascii=False) for p in products}
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(PRODUCTS_KEY)
        if mapping:
            pipe.hset(PRODUCTS_KEY, mapping=mapping)  # type: ignore[arg-type]
        pipe.execute()
    return len(mapping)


def load_products(client: redis.Redis) -> dict[str, Product]:
    raw = client.hgetall(PRODUCTS_KEY)
    return {
        decoded(sku): Product(**json.loads(value))
        for sku, value in raw.items()  # type: ignore[union-attr]
    }


def set_stock(client: redis.Redis, store_id: str, levels: Mapping[str, int]) -> None:
    """Set on-hand levels (each >= 0) for the given skus in one step."""
    if levels:
        client.hset(stock_key(store_id), mapping=dict(levels))  # type: ignore[arg-type]


def adjust_stock(client: redis.Redis, store_id: str, deltas: Mapping[str, int]) -> None:
    """Add (or remove) quantities; refuse the whole batch if any level would go negative."""
    args: list[Any] = [value for sku, delta in deltas.items() for value in (sku, delta)]
    outcome = client.eval(_ADJUST_STOCK, 1, stock_key(store_id), *args)  # type: ignore[no-untyped-call]
    if decoded(outcome[0]) == "negative":
        msg = f"stock of {decoded(outcome[1])} would go below zero"
        raise NegativeStockError(msg)


def stores_stocking(client: redis.Redis, store_ids: Sequence[str], skus: Sequence[str]) -> set[str]:
    """The stores among ``store_ids`` with at least one of each of ``skus`` (one round trip)."""
    pipe = client.pipeline(transaction=False)
    for store_id in store_ids:
        pipe.hmget(stock_key(store_id), list(skus))
    return {
        store_id
        for store_id, levels in zip(store_ids, pipe.execute(), strict=True)
        if all(level is not None and int(level) > 0 for level in levels)
    }


def stock_levels(client: redis.Redis, store_id: str) -> dict[str, int]:
    raw = client.hgetall(stock_key(store_id))
    return {decoded(k): int(v) for k, v in raw.items()}  # type: ignore[union-attr]


def situations_for(
    client: redis.Redis, store_ids: Sequence[str], skus: Sequence[str], *, now: datetime
) -> list[tuple[dict[str, int], int]]:
    """(stock of ``skus``, orders in the last hour) for each store, in one round trip."""
    pipe = client.pipeline(transaction=False)
    since = now.timestamp() - 3600
    for store_id in store_ids:
        pipe.hmget(stock_key(store_id), list(skus))
        pipe.zcount(capacity_key(store_id), since, "+inf")
    replies = pipe.execute()
    result = []
    for i in range(len(store_ids)):
        levels = replies[2 * i]
        stock = {sku: int(level) for sku, level in zip(skus, levels, strict=True) if level}
        result.append((stock, int(replies[2 * i + 1])))
    return result


# -- orders --------------------------------------------------------------------------------------


def find_by_idempotency(client: redis.Redis, keys: Sequence[str]) -> tuple[str, str] | None:
    """(order id, body hash) already stored under any of ``keys``."""
    for value in client.mget(keys):
        if value is not None:
            order_id, body_hash = decoded(value).split("\t", 1)
            return order_id, body_hash
    return None


def place_order(
    client: redis.Redis,
    order: Order,
    *,
    capacity_per_hour: int,
    idempotency: Sequence[str],
    body_hash: str,
) -> Placement:
    """Reserve stock, take capacity and store the order at once, or change nothing."""
    store = order.store_id
    keys = [
        stock_key(store),
        capacity_key(store),
        order_key(order.id),
        store_orders_key(store),
        ORDER_STREAM,
        ACCEPTED_KEY,
        OPEN_KEY,
        *idempotency,
    ]
    lines = [value for line in order.request.lines for value in (line.sku, line.qty)]
    args = [
        order.id,
        json.dumps(order.to_record(), ensure_ascii=False),
        order.created_at.timestamp(),
        capacity_per_hour,
        f"{order.id}\t{body_hash}",
        store,
        len(order.request.lines),
        *lines,
    ]
    reply = [decoded(part) for part in client.eval(_PLACE_ORDER, len(keys), *keys, *args)]  # type: ignore[no-untyped-call]
    if reply[0] == "duplicate":
        order_id, existing_hash = reply[1].split("\t", 1)
        return Placement("duplicate", existing_order_id=order_id, existing_body_hash=existing_hash)
    return Placement(reply[0], missing_skus=tuple(reply[1:]))


def get_order(client: redis.Redis, order_id: str) -> dict[str, Any] | None:
    raw = client.get(order_key(order_id))
    return None if raw is None else json.loads(raw)  # type: ignore[arg-type]


def change_status(
    client: redis.Redis,
    order_id: str,
    target: str,
    *,
    at: datetime,
    note: str = "",
    also_hset: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Move an order to ``target`` if the lifecycle allows it; give stock back on an early end.

    Optimistic: the order is watched, so a concurrent change makes this retry on fresh data.
    ``also_hset`` (hash key -> fields) is written in the same transaction (e.g. which courier
    carries the order, and the courier event that moved it).
    """
    key = order_key(order_id)
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                raw = pipe.get(key)
                if raw is None:
                    raise OrderNotFoundError(order_id)
                record = json.loads(raw)  # type: ignore[arg-type]
                previous = record["status"]
                check_transition(previous, target)
                record["status"] = target
                record["events"].append({"status": target, "at": at.isoformat(), "note": note})
                pipe.multi()
                pipe.set(key, json.dumps(record, ensure_ascii=False))
                for hash_key, fields in (also_hset or {}).items():
                    for field_name, value in fields.items():
                        pipe.hset(hash_key, field_name, value)
                if previous == "accepted":
                    pipe.zrem(ACCEPTED_KEY, order_id)
                if not TRANSITIONS[target]:  # a final status: nothing left to plan
                    pipe.zrem(OPEN_KEY, order_id)
                if target in ("cancelled", "failed") and previous in RELEASES_STOCK_FROM:
                    store = record["store_id"]
                    for item in record["items"]:
                        pipe.hincrby(stock_key(store), item["sku"], item["qty"])
                    pipe.zrem(capacity_key(store), order_id)
                pipe.execute()
                return record  # type: ignore[no-any-return]
            except redis.WatchError:
                continue


def open_orders(client: redis.Redis) -> list[dict[str, Any]]:
    """Every order still to deliver, oldest first."""
    return _orders(client, _texts(client.zrange(OPEN_KEY, 0, -1)))


def accepted_orders(client: redis.Redis, *, limit: int) -> list[dict[str, Any]]:
    """The most recent orders still in ``accepted`` (not yet being prepared), oldest first."""
    records = _orders(client, _texts(client.zrange(ACCEPTED_KEY, -limit, -1)))
    return [r for r in records if r["status"] == "accepted"]


def move_order(
    client: redis.Redis,
    order_id: str,
    *,
    to_store: str,
    capacity_per_hour: int,
    at: datetime,
    reason: str,
) -> bool:
    """Move an accepted order to another store, stock and slot with it; False if it cannot.

    Optimistic like :func:`change_status`: the order and the target's stock and slots are
    watched, so an intake or a status change in between makes this retry on fresh data.
    """
    key = order_key(order_id)
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key, stock_key(to_store), capacity_key(to_store))  # type: ignore[no-untyped-call]
                raw: Any = pipe.get(key)
                record = None if raw is None else json.loads(raw)
                if record is None or record["status"] != "accepted":
                    return False
                from_store = record["store_id"]
                items = {item["sku"]: item["qty"] for item in record["items"]}
                levels: Any = pipe.hmget(stock_key(to_store), list(items))
                busy: Any = pipe.zcount(capacity_key(to_store), at.timestamp() - 3600, "+inf")
                pairs = zip(levels, items.values(), strict=True)
                short = any(int(level or 0) < qty for level, qty in pairs)
                if from_store == to_store or short or int(busy) >= capacity_per_hour:
                    return False
                created = datetime.fromisoformat(record["created_at"]).timestamp()
                record["store_id"] = to_store
                record["match"]["reason"] = reason
                note = f"re-balanced from {from_store} to {to_store}"
                record["events"].append({"status": "accepted", "at": at.isoformat(), "note": note})
                pipe.multi()
                for sku, qty in items.items():
                    pipe.hincrby(stock_key(from_store), sku, qty)
                    pipe.hincrby(stock_key(to_store), sku, -qty)
                pipe.zrem(capacity_key(from_store), order_id)
                pipe.zadd(capacity_key(to_store), {order_id: created})
                pipe.zrem(store_orders_key(from_store), order_id)
                pipe.zadd(store_orders_key(to_store), {order_id: created})
                pipe.set(key, json.dumps(record, ensure_ascii=False))
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def store_orders(
    client: redis.Redis, store_id: str, *, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """The store's most recent orders, newest first, optionally of one status."""
    records = _orders(client, _texts(client.zrevrange(store_orders_key(store_id), 0, 999)))
    if status is not None:
        records = [r for r in records if r["status"] == status]
    return records[:limit]


def store_orders_between(
    client: redis.Redis, store_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Every order of the store created in [start, end)."""
    ids = client.zrangebyscore(store_orders_key(store_id), start.timestamp(), f"({end.timestamp()}")
    return _orders(client, _texts(ids))


def orders_between(client: redis.Redis, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every order of every store created in [start, end) (the stores that have orders)."""
    orders: list[dict[str, Any]] = []
    for key in client.scan_iter(match=store_orders_key("*"), count=500):
        store_id = decoded(key).split(":", 1)[1]
        orders += store_orders_between(client, store_id, start, end)
    return orders


def _texts(values: Any) -> list[str]:
    return [decoded(value) for value in values]


def _orders(client: redis.Redis, order_ids: list[str]) -> list[dict[str, Any]]:
    """The stored records of ``order_ids`` (any that vanished are left out), in that order."""
    raws: Any = client.mget([order_key(i) for i in order_ids]) if order_ids else []
    return [json.loads(raw) for raw in raws if raw is not None]


def decoded(value: bytes | str) -> str:
    """A Redis reply as text (replies are bytes unless the client decodes them)."""
    return value.decode() if isinstance(value, bytes) else value
