"""Orders, products and stock in Redis: placement, status changes, re-balancing moves and the
time-ordered lists of a store's and a shopper's orders (key names in
:mod:`dispatch.storage.order_keys`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import redis

from dispatch.idempotency import Claim
from dispatch.order_store import (
    Move,
    NegativeStockError,
    OrderNotFoundError,
    OrderPage,
    Placement,
    StoreKeyspace,
    page_cursor,
    parse_page_cursor,
    region_of_order,
)
from dispatch.orders import (
    FINAL_STATUSES,
    GIVES_STOCK_BACK,
    RELEASES_STOCK_FROM,
    AlreadyPastError,
    Cancellation,
    IllegalTransitionError,
    Order,
    check_fulfilment,
    collect_by,
    steps_to,
)
from dispatch.products import Product
from dispatch.storage import claims
from dispatch.storage.order_keys import (
    ORDER_STREAM,
    PRODUCTS_KEY,
    REGIONS_KEY,
    accepted_key,
    capacity_key,
    get_many,
    open_key,
    order_key,
    order_regions,
    pickup_key,
    shopper_orders_key,
    stock_key,
    store_orders_key,
)
from dispatch.storage.replies import decoded

# Every check happens before the first write, so a refusal leaves no trace; Redis runs the
# script alone, so two shoppers racing for the last unit cannot both pass the stock check.
_PLACE_ORDER = """
local now = tonumber(ARGV[3])
local lines = tonumber(ARGV[5])
local counted = 6 + 2 * lines  -- the score range whose orders count, and this order's score
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600)
local busy = redis.call('ZCOUNT', KEYS[2], ARGV[counted], ARGV[counted + 1])
if busy >= tonumber(ARGV[4]) then return {'over_capacity'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'exists'} end
local missing = {}
for i = 0, lines - 1 do
  local have = tonumber(redis.call('HGET', KEYS[1], ARGV[6 + 2 * i]) or '0')
  if have < tonumber(ARGV[7 + 2 * i]) then missing[#missing + 1] = ARGV[6 + 2 * i] end
end
if #missing > 0 then return {'out_of_stock', unpack(missing)} end
for i = 0, lines - 1 do
  redis.call('HINCRBY', KEYS[1], ARGV[6 + 2 * i], -tonumber(ARGV[7 + 2 * i]))
end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[counted + 2], ARGV[1])
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('ZADD', KEYS[5], now, ARGV[1])
redis.call('ZADD', KEYS[6], now, ARGV[1])
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


def set_stock(client: redis.Redis, keyspace: StoreKeyspace, levels: Mapping[str, int]) -> None:
    """Set on-hand levels (each >= 0) for the given skus in one step."""
    if levels:
        client.hset(stock_key(keyspace), mapping=dict(levels))  # type: ignore[arg-type]


def adjust_stock(client: redis.Redis, keyspace: StoreKeyspace, deltas: Mapping[str, int]) -> None:
    """Add (or remove) quantities; refuse the whole batch if any level would go negative."""
    args: list[Any] = [value for sku, delta in deltas.items() for value in (sku, delta)]
    outcome = client.eval(_ADJUST_STOCK, 1, stock_key(keyspace), *args)  # type: ignore[no-untyped-call]
    if decoded(outcome[0]) == "negative":
        msg = f"stock of {decoded(outcome[1])} would go below zero"
        raise NegativeStockError(msg)


def stores_stocking(
    client: redis.Redis, keyspaces: Sequence[StoreKeyspace], skus: Sequence[str]
) -> set[str]:
    """The ids of the stores among ``slots`` with at least one of each of ``skus``."""
    pipe = client.pipeline(transaction=False)
    for keyspace in keyspaces:
        pipe.hmget(stock_key(keyspace), list(skus))
    return {
        keyspace.store_id
        for keyspace, levels in zip(keyspaces, pipe.execute(), strict=True)
        if all(level is not None and int(level) > 0 for level in levels)
    }


def stock_levels(client: redis.Redis, keyspace: StoreKeyspace) -> dict[str, int]:
    raw = client.hgetall(stock_key(keyspace))
    return {decoded(k): int(v) for k, v in raw.items()}  # type: ignore[union-attr]


def capacity_range(
    now: datetime, counted: tuple[datetime, datetime] | None = None
) -> tuple[str, str]:
    """The ``capacity`` scores whose orders fill a store's hour, as ZCOUNT bounds: for an
    order for now, those of the last hour and the scheduled ones due within the next; for a
    scheduled order, those in the hour slot it falls in (``counted``, [start, end))."""
    if counted is not None:
        return repr(counted[0].timestamp()), f"({counted[1].timestamp()!r}"
    return f"({now.timestamp() - 3600!r}", repr(now.timestamp() + 3600)


def situations_for(
    client: redis.Redis, keyspaces: Sequence[StoreKeyspace], skus: Sequence[str], *, now: datetime,
    counted: Sequence[tuple[datetime, datetime]] | None = None,
) -> list[tuple[dict[str, int], int]]:  # fmt: skip
    """(stock of ``skus``, orders filling its hour) for each store, in one round trip; with
    ``counted``, each store's hour slot of a scheduled order (see :func:`capacity_range`)."""
    pipe = client.pipeline(transaction=False)
    for i, keyspace in enumerate(keyspaces):
        pipe.hmget(stock_key(keyspace), list(skus))
        pipe.zcount(capacity_key(keyspace), *capacity_range(now, counted[i] if counted else None))
    replies = pipe.execute()
    result = []
    for i in range(len(keyspaces)):
        levels = replies[2 * i]
        stock = {sku: int(level) for sku, level in zip(skus, levels, strict=True) if level}
        result.append((stock, int(replies[2 * i + 1])))
    return result


# -- orders --------------------------------------------------------------------------------------


def place_order(
    client: redis.Redis, order: Order, keyspace: StoreKeyspace, *, capacity_per_hour: int,
    counted: tuple[datetime, datetime] | None = None,
) -> Placement:  # fmt: skip
    """Reserve stock, take capacity and store the order at once, or change nothing; a
    scheduled order takes it in its hour slot ``counted`` (see :func:`capacity_range`)."""
    region = keyspace.region
    shopper = order.request.shopper
    with client.pipeline(transaction=False) as first:  # one round trip, keys in any slot
        first.sadd(REGIONS_KEY, region)  # first: a listed region without orders is harmless
        if shopper is not None:  # first too: a listed id without an order is skipped when read
            first.zadd(shopper_orders_key(shopper), {order.id: order.created_at.timestamp()})
        first.execute()
    keys = [stock_key(keyspace), capacity_key(keyspace), order_key(order.id),
            store_orders_key(keyspace), accepted_key(region), open_key(region)]  # fmt: skip
    if order.request.fulfilment == "pickup":  # the counter's: neither planned nor re-balanced
        keys[4:6] = [pickup_key(region), pickup_key(region)]
    lines = [value for line in order.request.lines for value in (line.sku, line.qty)]
    args = [
        order.id,
        _json_of(order),
        order.created_at.timestamp(),
        capacity_per_hour,
        len(order.request.lines),
        *lines,
        *capacity_range(order.created_at, counted),
        (order.schedule.deliver_at if order.schedule else order.created_at).timestamp(),
    ]
    reply = [decoded(part) for part in client.eval(_PLACE_ORDER, len(keys), *keys, *args)]  # type: ignore[no-untyped-call]
    if reply[0] == "ok":  # after the order is safe: the stream only wakes the planner
        client.xadd(ORDER_STREAM, {"order_id": order.id, "store_id": keyspace.store_id})
    elif shopper is not None:
        client.zrem(shopper_orders_key(shopper), order.id)
    return Placement(reply[0], missing_skus=tuple(reply[1:]))


def get_order(client: redis.Redis, order_id: str) -> Order | None:
    raw = client.get(order_key(order_id))
    return None if raw is None else _order_of(raw)


def change_status(
    client: redis.Redis,
    order_id: str,
    target: str,
    *,
    at: datetime,
    note: str = "",
    also_hset: Mapping[str, Mapping[str, str]] | None = None,
    only_from: Collection[str] | None = None,
    restock: bool = False,
    cancellation: Cancellation | None = None,
) -> Order:
    """Move an order to ``target`` if the lifecycle allows it, recording the steps the move
    implies (see :func:`dispatch.orders.steps_to`); give stock back on an early end. A late
    counter step changes nothing and raises :class:`AlreadyPastError` with the order.
    ``only_from`` narrows the statuses the move may start from (checked in the same
    transaction, so a concurrent step cannot slip between the check and the move); any other
    is an :class:`IllegalTransitionError`.

    Optimistic: the order is watched, so a concurrent change makes this retry on fresh data.
    ``also_hset`` (hash key -> fields, keys in the order's region) is written in the same
    transaction (e.g. which courier carries the order, and the courier event that moved it);
    ``cancellation`` is kept on the order with the move (who cancelled it, why and when).
    ``restock``: a failure after the pick-up gives the stock back too (the goods come back
    unopened, as when the buyer's ID check fails).
    """
    key, region = order_key(order_id), region_of_order(order_id)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                raw = pipe.get(key)
                if raw is None:
                    raise OrderNotFoundError(order_id)
                order = _order_of(raw)
                previous = order.status
                if only_from is not None and previous not in only_from:
                    msg = f"cannot move an order from {previous} to {target} here"
                    raise IllegalTransitionError(msg)
                check_fulfilment(order.request.fulfilment, target)
                steps = steps_to(previous, target)
                if not steps:
                    raise AlreadyPastError(order)
                order = order.stepped(steps, at=at, note=note)
                if cancellation is not None:
                    order = replace(order, cancellation=cancellation)
                pipe.multi()
                pipe.set(key, _json_of(order))
                for hash_key, fields in (also_hset or {}).items():
                    for field_name, value in fields.items():
                        pipe.hset(hash_key, field_name, value)
                if previous == "accepted":
                    pipe.zrem(accepted_key(region), order_id)
                if target in FINAL_STATUSES:  # nothing left to plan
                    pipe.zrem(open_key(region), order_id)
                    pipe.zrem(pickup_key(region), order_id)
                if target in GIVES_STOCK_BACK and (
                    previous in RELEASES_STOCK_FROM or (restock and previous == "picked_up")
                ):
                    keyspace = StoreKeyspace(order.store_id, region)
                    for line in order.request.lines:
                        pipe.hincrby(stock_key(keyspace), line.sku, line.qty)
                    pipe.zrem(capacity_key(keyspace), order_id)
                pipe.execute()
                return order
            except redis.WatchError:
                continue


def expire_uncollected(client: redis.Redis, *, now: datetime, hold: timedelta) -> list[str]:
    """Let every pick-up order ready for longer than ``hold`` expire, its stock back on the
    shelf; the ids of those that expired. Safe to run from any number of processes at once:
    each move is checked against the order's status in its own transaction."""
    expired = []
    for region in order_regions(client):
        for order in _orders(client, _texts(client.zrange(pickup_key(region), 0, -1))):
            deadline = collect_by(order, hold=hold)
            if deadline is None or deadline > now:
                continue
            note = f"not collected by {deadline.isoformat()}"
            try:
                change_status(client, order.id, "expired", at=now, note=note,
                              only_from=("ready",))  # fmt: skip
            except (IllegalTransitionError, AlreadyPastError):
                continue  # collected or cancelled meanwhile
            expired.append(order.id)
    return expired


def open_order_ids(client: redis.Redis) -> list[str]:
    """The ids of every order still to deliver, region by region, oldest first in each."""
    pipe = client.pipeline(transaction=False)
    for region in order_regions(client):
        pipe.zrange(open_key(region), 0, -1)
    return [decoded(i) for ids in pipe.execute() for i in ids]


def open_orders(client: redis.Redis) -> list[Order]:
    """Every order still to deliver, oldest first."""
    return sorted(_orders(client, open_order_ids(client)), key=lambda order: order.created_at)


def accepted_orders(client: redis.Redis, region: str, *, limit: int) -> list[Order]:
    """The region's most recent orders still in ``accepted`` (not yet being prepared), oldest
    first."""
    orders = _orders(client, _texts(client.zrange(accepted_key(region), -limit, -1)))
    return [order for order in orders if order.status == "accepted"]


def move_orders(
    client: redis.Redis,
    moves: Sequence[Move],
    *,
    capacity_per_hour: Mapping[str, int],
    at: datetime,
) -> bool:
    """Move accepted orders between stores of one region, stock and slots with them: all or none.

    The moves of a re-balance pay only together (one order leaves a store so that another can
    come in), so they are checked as a whole on fresh data and written in one transaction;
    False, with nothing written, if an order is no longer accepted at its ``from_store``, or a
    store would go below zero stock or, taking orders in, above its ``capacity_per_hour``.
    Optimistic like :func:`change_status`: every key read is watched.
    """
    if not moves:
        return True
    region = region_of_order(moves[0].order_id)
    if any(region_of_order(m.order_id) != region or m.from_store == m.to_store for m in moves):
        msg = "moves stay within one region and go to another store"
        raise ValueError(msg)
    keyspaces = {s: StoreKeyspace(s, region) for m in moves for s in (m.from_store, m.to_store)}
    keys = [order_key(m.order_id) for m in moves]
    watched = [*keys, *(stock_key(sl) for sl in keyspaces.values())]
    watched += [capacity_key(sl) for sl in keyspaces.values()]
    since = at.timestamp() - 3600
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(*watched)  # type: ignore[no-untyped-call]
                raws: Any = pipe.mget(keys)
                found = [None if raw is None else _order_of(raw) for raw in raws]
                if any(
                    order is None or order.status != "accepted" or order.store_id != m.from_store
                    for m, order in zip(moves, found, strict=True)
                ):
                    return False
                orders = [order for order in found if order is not None]
                change: dict[tuple[str, str], int] = {}  # (store, sku) -> net stock change
                slots_net: dict[str, int] = {}  # store -> net change of its slots this hour
                for m, order in zip(moves, orders, strict=True):
                    for line in order.request.lines:
                        for store, sign in ((m.from_store, 1), (m.to_store, -1)):
                            key = (store, line.sku)
                            change[key] = change.get(key, 0) + sign * line.qty
                    if order.created_at.timestamp() >= since:
                        slots_net[m.to_store] = slots_net.get(m.to_store, 0) + 1
                        slots_net[m.from_store] = slots_net.get(m.from_store, 0) - 1
                for (store, sku), delta in change.items():
                    level: Any = pipe.hget(stock_key(keyspaces[store]), sku) if delta < 0 else 0
                    if int(level or 0) + delta < 0:
                        return False
                for store in {m.to_store for m in moves}:
                    busy: Any = pipe.zcount(capacity_key(keyspaces[store]), *capacity_range(at))
                    if int(busy) + slots_net.get(store, 0) > capacity_per_hour[store]:
                        return False
                pipe.multi()
                for (store, sku), delta in change.items():
                    if delta:
                        pipe.hincrby(stock_key(keyspaces[store]), sku, delta)
                for m, order in zip(moves, orders, strict=True):
                    source, target = keyspaces[m.from_store], keyspaces[m.to_store]
                    created = order.created_at.timestamp()
                    pipe.zrem(capacity_key(source), m.order_id)
                    pipe.zadd(capacity_key(target), {m.order_id: created})
                    pipe.zrem(store_orders_key(source), m.order_id)
                    pipe.zadd(store_orders_key(target), {m.order_id: created})
                    moved = order.moved_to(m.to_store, reason=m.reason, at=at)
                    pipe.set(order_key(m.order_id), _json_of(moved))
                pipe.execute()
                return True
            except redis.WatchError:
                continue


PAGE_SCAN = 1_000  # ids one page request reads at most, however few of them it keeps
_PAGE_BATCH = 100


def orders_newest_first(
    client: redis.Redis, key: str, *, cursor: str | None, limit: int,
    keep: Callable[[Order], bool] | None = None,
) -> OrderPage:  # fmt: skip
    """Up to ``limit`` orders of the time index ``key`` (a zset of order ids by time), newest
    first, after ``cursor``, of those ``keep`` accepts. Equal times go by id, so a cursor names
    one place exactly, and an order placed meanwhile never shifts a page. A page reads at most
    :data:`PAGE_SCAN` ids: past that it ends early, with a cursor to read on from."""
    after = None if cursor is None else parse_page_cursor(cursor)
    top = "+inf" if after is None else repr(after[0])
    kept: list[tuple[Order, str]] = []
    offset = scanned = 0
    last_read = cursor
    while True:
        batch: Any = client.zrevrangebyscore(
            key, top, "-inf", start=offset, num=_PAGE_BATCH, withscores=True
        )
        if not batch:
            return OrderPage([order for order, _ in kept], None)
        offset += len(batch)
        entries = [(decoded(member), float(score)) for member, score in batch]
        if after is not None:  # the cursor's own time: only the ids after it (lower, in Redis)
            entries = [(m, t) for m, t in entries if t != after[0] or m < after[1]]
        raws = get_many(client, [order_key(member) for member, _ in entries])
        for (member, score), raw in zip(entries, raws, strict=True):
            scanned += 1
            last_read = page_cursor(score, member)
            if raw is None:  # gone, or a placement that never landed
                continue
            order = _order_of(raw)
            if keep is None or keep(order):
                kept.append((order, last_read))
            if len(kept) > limit:
                return OrderPage([order for order, _ in kept[:limit]], kept[limit - 1][1])
        if scanned >= PAGE_SCAN:
            return OrderPage([order for order, _ in kept], last_read)


def shopper_orders(
    client: redis.Redis, shopper: str, *, cursor: str | None, limit: int
) -> OrderPage:
    """The shopper's own orders, newest first, a page at a time."""
    return orders_newest_first(
        client, shopper_orders_key(shopper), cursor=cursor, limit=limit,
        keep=lambda order: order.request.shopper == shopper,  # theirs, whatever the index says
    )  # fmt: skip


def store_orders_page(
    client: redis.Redis, keyspace: StoreKeyspace, *, status: str | None, cursor: str | None,
    limit: int, fulfilment: str | None = None,
) -> OrderPage:  # fmt: skip
    """The store's orders, newest first, optionally of one status and one fulfilment, a page
    at a time."""

    def wanted(order: Order) -> bool:
        return (status is None or order.status == status) and (
            fulfilment is None or order.request.fulfilment == fulfilment
        )

    keep = None if status is None and fulfilment is None else wanted
    return orders_newest_first(
        client, store_orders_key(keyspace), cursor=cursor, limit=limit, keep=keep
    )


def store_orders_between(
    client: redis.Redis, keyspace: StoreKeyspace, start: datetime, end: datetime
) -> list[Order]:
    """Every order of the store created in [start, end)."""
    ids = client.zrangebyscore(store_orders_key(keyspace), start.timestamp(), f"({end.timestamp()}")
    return _orders(client, _texts(ids))


def orders_between(client: redis.Redis, start: datetime, end: datetime) -> list[Order]:
    """Every order of every store created in [start, end) (the stores that have orders)."""
    orders: list[Order] = []
    for keyspace in _slots_under(client, "store-orders"):
        orders += store_orders_between(client, keyspace, start, end)
    return orders


def stocked_stores(client: redis.Redis) -> list[StoreKeyspace]:
    """Every store with stock recorded."""
    return _slots_under(client, "stock")


def _slots_under(client: redis.Redis, prefix: str) -> list[StoreKeyspace]:
    """The stores with a ``<prefix>:{region}:<store>`` key."""
    keyspaces = []
    for key in client.scan_iter(match=f"{prefix}:{{*}}:*", count=500):
        region, _, store_id = decoded(key).removeprefix(f"{prefix}:{{").partition("}:")
        keyspaces.append(StoreKeyspace(store_id, region))
    return keyspaces


def _texts(values: Any) -> list[str]:
    return [decoded(value) for value in values]


def _orders(client: redis.Redis, order_ids: list[str]) -> list[Order]:
    """The orders of ``order_ids`` (any that vanished are left out), in that order."""
    return [_order_of(raw) for raw in get_many(client, [order_key(i) for i in order_ids]) if raw]


def _order_of(raw: Any) -> Order:
    """The order a stored record (JSON) describes."""
    return Order.from_record(json.loads(raw))


def _json_of(order: Order) -> str:
    """The record kept of ``order`` (JSON)."""
    return json.dumps(order.to_record(), ensure_ascii=False)


class RedisOrderStore:
    """The order store intake works with (:class:`dispatch.order_store.OrderStore`), on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def order_regions(self) -> list[str]:
        return order_regions(self._client)

    def situations_for(
        self, keyspaces: Sequence[StoreKeyspace], skus: Sequence[str], *, now: datetime,
        counted: Sequence[tuple[datetime, datetime]] | None = None,
    ) -> list[tuple[dict[str, int], int]]:  # fmt: skip
        return situations_for(self._client, keyspaces, skus, now=now, counted=counted)

    def place_order(
        self, order: Order, keyspace: StoreKeyspace, *, capacity_per_hour: int,
        counted: tuple[datetime, datetime] | None = None,
    ) -> Placement:  # fmt: skip
        return place_order(
            self._client, order, keyspace, capacity_per_hour=capacity_per_hour, counted=counted
        )

    def accepted_orders(self, region: str, *, limit: int) -> list[Order]:
        return accepted_orders(self._client, region, limit=limit)

    def move_orders(
        self, moves: Sequence[Move], *, capacity_per_hour: Mapping[str, int], at: datetime
    ) -> bool:
        return move_orders(self._client, moves, capacity_per_hour=capacity_per_hour, at=at)

    def find_claim(self, keys: Sequence[str]) -> Claim | None:
        return claims.find_claim(self._client, keys)

    def claim(self, keys: Sequence[str], mine: Claim) -> Claim | None:
        return claims.claim(self._client, keys, mine)

    def drop_claim(self, keys: Sequence[str], held: Claim) -> None:
        claims.drop_claim(self._client, keys, held)

    def claimed_order(self, ticket: str) -> Order | None:
        return claims.claimed_order(self._client, ticket)
