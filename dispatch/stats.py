"""A merchant's figures: orders, revenue, shoppers won and kept, cancellations and on-time share,
over the store's orders and per channel, per way of fulfilment and per campaign."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

REPEAT_WITHIN = timedelta(days=30)
RETURNING_LOOKBACK = timedelta(days=90)  # how far back an earlier order makes a shopper returning
NO_SALE = frozenset({"cancelled", "failed", "expired"})  # ended without the goods sold


def store_figures(
    orders: Iterable[dict[str, Any]], *, history: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """Summarise order records (as stored) of one store over some period.

    ``history``: the store's orders around the period (before it, to tell returning shoppers
    from new ones; after it, within :data:`REPEAT_WITHIN`, to count repeats). Cancelled, failed
    and expired orders count as orders but bring no revenue and make no shopper. A shopper (an
    order with a ``shopper_id``) is new when their first sale at the store is in the period;
    the repeat rate is the share of a group's shoppers who bought again at the store within 30
    days of their first order of the group in the period. On time: a delivery delivered, a
    pick-up ready at the counter, by ``promised_by``; the share is over those that got there.
    """
    period = sorted(orders, key=lambda o: o["created_at"])
    sales_of: dict[str, list[datetime]] = {}  # shopper -> times of their sales, oldest first
    for order in [*period, *history]:
        if order.get("shopper_id") and order["status"] not in NO_SALE:
            sales_of.setdefault(order["shopper_id"], []).append(_created(order))
    for times in sales_of.values():
        times.sort()
    by_channel: dict[str, list[dict[str, Any]]] = {}
    by_fulfilment: dict[str, list[dict[str, Any]]] = {}
    by_campaign: dict[str, list[dict[str, Any]]] = {}
    for order in period:
        by_channel.setdefault(order["channel"], []).append(order)
        by_fulfilment.setdefault(order.get("fulfilment", "delivery"), []).append(order)
        if order.get("campaign"):
            by_campaign.setdefault(order["campaign"], []).append(order)
    delivered = [(o, at) for o in period if (at := _event_at(o, "delivered")) is not None]
    delivery_seconds = sum((at - _created(o)).total_seconds() for o, at in delivered)
    overall = _group(period, sales_of)
    return {
        **overall,
        "by_channel": {k: _group(v, sales_of) for k, v in sorted(by_channel.items())},
        "by_fulfilment": {k: _group(v, sales_of) for k, v in sorted(by_fulfilment.items())},
        "by_campaign": {k: _group(v, sales_of) for k, v in sorted(by_campaign.items())},
        "delivered": len(delivered),
        "collected": sum(o["status"] == "collected" for o in period),
        "expired": sum(o["status"] == "expired" for o in period),
        "mean_delivery_s": delivery_seconds / len(delivered) if delivered else None,
    }


def _group(orders: list[dict[str, Any]], sales_of: Mapping[str, list[datetime]]) -> dict[str, Any]:
    """The figures of one group of the period's orders (oldest first)."""
    revenue = sum(o["total_cents"] for o in orders if o["status"] not in NO_SALE)
    first_in_group: dict[str, datetime] = {}
    for order in orders:
        if order.get("shopper_id") and order["status"] not in NO_SALE:
            first_in_group.setdefault(order["shopper_id"], _created(order))
    new = sum(sales_of[s][0] == at for s, at in first_in_group.items())
    repeated = sum(
        any(at < later <= at + REPEAT_WITHIN for later in sales_of[s])
        for s, at in first_in_group.items()
    )
    done = on_time = 0
    for order in orders:
        finished = _event_at(order, "ready" if order.get("fulfilment") == "pickup" else "delivered")
        if finished is not None and order["status"] not in ("cancelled", "failed"):
            done += 1
            on_time += finished <= datetime.fromisoformat(order["promised_by"])
    return {
        "orders": len(orders),
        "revenue_cents": revenue,
        "cancelled": sum(o["status"] == "cancelled" for o in orders),
        "shoppers": len(first_in_group),
        "new_shoppers": new,
        "returning_shoppers": len(first_in_group) - new,
        "repeat_rate_30d": repeated / len(first_in_group) if first_in_group else None,
        "on_time_share": on_time / done if done else None,
    }


def _created(order: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(order["created_at"])


def _event_at(order: Mapping[str, Any], status: str) -> datetime | None:
    at = next((e["at"] for e in order["events"] if e["status"] == status), None)
    return None if at is None else datetime.fromisoformat(at)
