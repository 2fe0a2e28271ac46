"""What the service keeps of orders, products and stock, as the domain sees it: the values the
order store trades in and the ids that name where an order lives (pure; the Redis side is
:mod:`dispatch.storage.orders`).

An order lives in its *region*: the dispatch region of its store (see :mod:`dispatch.regions`),
so everything one placement, status change or re-balance touches sits together; its id names
that region. A store's *keyspace* is its id and region: where its stock and orders are kept.
:class:`OrderStore` is the port order intake needs from the store.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dispatch.idempotency import Claim
from dispatch.orders import Order
from dispatch.regions import region_of
from geo.stores import Store

_ORDER_ID = re.compile(r"ord_([0-9a-z]+)_([0-9a-f]+)")


class OrderNotFoundError(KeyError):
    """No order with that id."""


class NegativeStockError(ValueError):
    """An adjustment would take a stock level below zero."""


class BadCursorError(ValueError):
    """A page cursor this service did not hand out (or one altered since)."""


@dataclass(frozen=True, slots=True)
class StoreKeyspace:
    """A store as its keys know it: its id and its region (whose keys share one cluster slot)."""

    store_id: str
    region: str

    @classmethod
    def of(cls, store: Store, resolution: int | None) -> StoreKeyspace:
        return cls(store.id, region_of(store.lat, store.lng, resolution))


@dataclass(frozen=True, slots=True)
class Placement:
    """How an attempt to place an order at one store ended."""

    outcome: str  # ok | exists | out_of_stock | over_capacity
    missing_skus: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Move:
    """One accepted order to move from one store of its region to another, and why."""

    order_id: str
    from_store: str
    to_store: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders, newest first; ``next_cursor`` None when nothing older is left."""

    orders: list[Order]
    next_cursor: str | None


def region_of_order(order_id: str) -> str:
    """The region an order id names ("-", a region never written, for an id not of ours)."""
    match = _ORDER_ID.fullmatch(order_id)
    return match.group(1) if match else "-"


def order_id_for(region: str, ticket: str) -> str:
    return f"ord_{region}_{ticket}"


def page_cursor(score: float, member: str) -> str:
    """An opaque cursor naming one entry of a time index: the next page starts after it."""
    return base64.urlsafe_b64encode(f"{score!r}|{member}".encode()).decode().rstrip("=")


def parse_page_cursor(cursor: str) -> tuple[float, str]:
    """(score, member) of a :func:`page_cursor`; :class:`BadCursorError` for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, sep, member = text.partition("|")
        value = float(score)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursorError(cursor) from exc
    if not sep or not member or not math.isfinite(value):
        raise BadCursorError(cursor)
    return value, member


class OrderStore(Protocol):
    """What order intake needs from the order store: stock and capacity seen, atomic placement,
    the idempotency claims, and the accepted orders re-balancing may move."""

    def order_regions(self) -> list[str]:
        """Every region that has had orders."""
        ...

    def situations_for(
        self, keyspaces: Sequence[StoreKeyspace], skus: Sequence[str], *, now: datetime,
        counted: Sequence[tuple[datetime, datetime]] | None = None,
    ) -> list[tuple[dict[str, int], int]]:  # fmt: skip
        """(stock of ``skus``, orders filling its hour) for each store; with ``counted``, the
        orders in each store's hour slot of a scheduled order ([start, end))."""
        ...

    def place_order(
        self, order: Order, keyspace: StoreKeyspace, *, capacity_per_hour: int,
        counted: tuple[datetime, datetime] | None = None,
    ) -> Placement:  # fmt: skip
        """Reserve stock, take capacity and keep the order at once, or change nothing."""
        ...

    def accepted_orders(self, region: str, *, limit: int) -> list[Order]:
        """The region's most recent orders still accepted, oldest first."""
        ...

    def move_orders(
        self, moves: Sequence[Move], *, capacity_per_hour: Mapping[str, int], at: datetime
    ) -> bool:
        """Apply the moves of one region all together, or none (False) if they no longer fit."""
        ...

    def find_claim(self, keys: Sequence[str]) -> Claim | None:
        """The claim already under any of ``keys``."""
        ...

    def claim(self, keys: Sequence[str], mine: Claim) -> Claim | None:
        """Claim every key for ``mine``; None on success, else the claim found."""
        ...

    def drop_claim(self, keys: Sequence[str], held: Claim) -> None:
        """Give back the keys still holding ``held``."""
        ...

    def claimed_order(self, ticket: str) -> Order | None:
        """The order placed under ``ticket``, whichever region it went to."""
        ...
