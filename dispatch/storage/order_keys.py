"""The key names of orders, products and stock, their Redis Cluster hash tags and the layout
check.

Keys carry their *region* as a hash tag: the dispatch region of the store (see
:mod:`dispatch.regions` and :func:`dispatch.order_store.region_of_order`), so everything one
placement, status change or re-balance touches sits in one slot. Per region ``H``:
``stock:{H}:<store>`` (hash sku -> on-hand qty), ``capacity:{H}:<store>`` (zset of the last
hour's order ids by time), ``store-orders:{H}:<store>`` (zset of order ids by time),
``order:{H}:<id>`` (JSON; the id names its region), ``orders:{H}:open`` (orders still to
deliver: to plan), ``orders:{H}:accepted`` (not yet being prepared: re-balancing may move them)
and ``orders:{H}:pickup`` (pick-up orders not yet collected or expired: never planned, never
moved); ``code-tries:{H}`` and ``code-locks:{H}`` (see :mod:`dispatch.storage.code_tries`).
Shared: ``products`` (hash sku -> JSON), ``orders:homes`` (every region with orders),
``shopper-orders:{<shopper>}`` (zset of a shopper's order ids by time), ``idem:*`` (see
:mod:`dispatch.storage.claims`) and the stream ``orders:stream`` (one entry per new order: it
wakes the dispatch worker; the open sets are the truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from dispatch.order_store import StoreKeyspace, region_of_order
from dispatch.storage.replies import decoded

PRODUCTS_KEY = "products"
ORDER_STREAM = "orders:stream"
REGIONS_KEY = "orders:homes"  # every region with orders (the name kept from layout 2)
LAYOUT_KEY = "layout"
LAYOUT_VERSION = 2  # 1: one global order index (before Redis Cluster); 2: keys by region


class LayoutMismatchError(RuntimeError):
    """The Redis data was written with another key layout or region resolution."""


def stock_key(keyspace: StoreKeyspace) -> str:
    return f"stock:{{{keyspace.region}}}:{keyspace.store_id}"


def capacity_key(keyspace: StoreKeyspace) -> str:
    return f"capacity:{{{keyspace.region}}}:{keyspace.store_id}"


def store_orders_key(keyspace: StoreKeyspace) -> str:
    return f"store-orders:{{{keyspace.region}}}:{keyspace.store_id}"


def order_key(order_id: str) -> str:
    return f"order:{{{region_of_order(order_id)}}}:{order_id}"


def open_key(region: str) -> str:
    return f"orders:{{{region}}}:open"


def accepted_key(region: str) -> str:
    return f"orders:{{{region}}}:accepted"


def pickup_key(region: str) -> str:
    return f"orders:{{{region}}}:pickup"


def shopper_orders_key(shopper: str) -> str:
    return f"shopper-orders:{{{shopper}}}"


def get_many(client: redis.Redis, keys: Sequence[str]) -> list[Any]:
    """GET of each key in one round trip, whatever slots they are in (MGET needs one slot)."""
    if not keys:
        return []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
    return list(pipe.execute())


def order_regions(client: redis.Redis) -> list[str]:
    """Every region that has had orders."""
    return sorted(decoded(h) for h in client.smembers(REGIONS_KEY))  # type: ignore[union-attr]


def check_layout(client: redis.Redis, resolution: int | None) -> None:
    """Record the key layout and region resolution on first use; refuse data written otherwise.

    Regions follow the region resolution, so a changed resolution would hide every store's stock.
    """
    wanted = f"{LAYOUT_VERSION}:{'all' if resolution is None else resolution}"
    if client.set(LAYOUT_KEY, wanted, nx=True):
        if client.exists("orders:open", "auth:tokens"):  # written before layout 2
            client.delete(LAYOUT_KEY)
            msg = ("this Redis holds data of an earlier version's key layout; start from an "
                   "empty Redis (for the demo: remove var/redis)")  # fmt: skip
            raise LayoutMismatchError(msg)
        return
    found = decoded(client.get(LAYOUT_KEY) or b"?")  # type: ignore[arg-type]
    if found != wanted:
        msg = (f"this Redis was set up with key layout {found!r} (version:region resolution), "
               f"not {wanted!r}: keep DISPATCH_REGION_RESOLUTION as it was")  # fmt: skip
        raise LayoutMismatchError(msg)
