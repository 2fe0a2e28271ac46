"""A merchant's figures: orders, revenue, shoppers won and kept, cancellations and on-time share,
over the store's orders and per channel, per way of fulfilment and per campaign."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from dispatch.orders import ENDED_UNSOLD, Order, arrived_at, on_time

REPEAT_WITHIN = timedelta(days=30)
RETURNING_LOOKBACK = timedelta(days=90)  # how far back an earlier order makes a shopper returning


def store_figures(orders: Iterable[Order], *, history: Iterable[Order] = ()) -> dict[str, Any]:
    """Summarise the orders of one store over some period.

    ``history``: the store's orders around the period (before it, to tell returning shoppers
    from new ones; after it, within :data:`REPEAT_WITHIN`, to count repeats). Cancelled, failed
    and expired orders count as orders but bring no revenue and make no shopper. A shopper (an
    order with a shopper account) is new when their first sale at the store is in the period;
    the repeat rate is the share of a group's shoppers who bought again at the store within 30
    days of their first order of the group in the period. On time: see
    :func:`dispatch.orders.on_time`; the share is over the orders that got there.
    """
    period = sorted(orders, key=lambda o: o.created_at)
    sales_of: dict[str, list[datetime]] = {}  # shopper -> times of their sales, oldest first
    for order in [*period, *history]:
        if order.request.shopper and order.status not in ENDED_UNSOLD:
            sales_of.setdefault(order.request.shopper, []).append(order.created_at)
    for times in sales_of.values():
        times.sort()
    by_channel: dict[str, list[Order]] = {}
    by_fulfilment: dict[str, list[Order]] = {}
    by_campaign: dict[str, list[Order]] = {}
    for order in period:
        by_channel.setdefault(order.request.channel, []).append(order)
        by_fulfilment.setdefault(order.request.fulfilment, []).append(order)
        if order.request.campaign:
            by_campaign.setdefault(order.request.campaign, []).append(order)
    delivered = [(o, at) for o in period if (at := _event_at(o, "delivered")) is not None]
    delivery_seconds = sum((at - o.created_at).total_seconds() for o, at in delivered)
    overall = _group(period, sales_of)
    return {
        **overall,
        "by_channel": {k: _group(v, sales_of) for k, v in sorted(by_channel.items())},
        "by_fulfilment": {k: _group(v, sales_of) for k, v in sorted(by_fulfilment.items())},
        "by_campaign": {k: _group(v, sales_of) for k, v in sorted(by_campaign.items())},
        "delivered": len(delivered),
        "collected": sum(o.status == "collected" for o in period),
        "expired": sum(o.status == "expired" for o in period),
        "mean_delivery_s": delivery_seconds / len(delivered) if delivered else None,
    }


def _group(orders: list[Order], sales_of: Mapping[str, list[datetime]]) -> dict[str, Any]:
    """The figures of one group of the period's orders (oldest first)."""
    revenue = sum(o.total_cents for o in orders if o.status not in ENDED_UNSOLD)
    first_in_group: dict[str, datetime] = {}
    for order in orders:
        if order.request.shopper and order.status not in ENDED_UNSOLD:
            first_in_group.setdefault(order.request.shopper, order.created_at)
    new = sum(sales_of[s][0] == at for s, at in first_in_group.items())
    repeated = sum(
        any(at < later <= at + REPEAT_WITHIN for later in sales_of[s])
        for s, at in first_in_group.items()
    )
    got_there = [order for order in orders if arrived_at(order) is not None]
    kept = sum(bool(on_time(order)) for order in got_there)
    return {
        "orders": len(orders),
        "revenue_cents": revenue,
        "cancelled": sum(o.status == "cancelled" for o in orders),
        "shoppers": len(first_in_group),
        "new_shoppers": new,
        "returning_shoppers": len(first_in_group) - new,
        "repeat_rate_30d": repeated / len(first_in_group) if first_in_group else None,
        "on_time_share": kept / len(got_there) if got_there else None,
    }


def _event_at(order: Order, status: str) -> datetime | None:
    return next((e.at for e in order.events if e.status == status), None)
