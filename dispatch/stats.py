"""A merchant's figures: orders and revenue per channel, on-time share, mean delivery time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def store_figures(orders: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Summarise order records (as stored) of one store over some period.

    Cancelled orders count per channel but bring no revenue; on-time share and mean delivery
    time are over delivered orders (delivered at or before ``promised_by`` is on time).
    """
    per_channel: dict[str, dict[str, int]] = {}
    delivered = on_time = 0
    delivery_seconds = 0.0
    for order in orders:
        channel = per_channel.setdefault(
            order["channel"], {"orders": 0, "revenue_cents": 0, "cancelled": 0}
        )
        channel["orders"] += 1
        if order["status"] in ("cancelled", "failed"):
            channel["cancelled"] += order["status"] == "cancelled"
            continue
        channel["revenue_cents"] += order["total_cents"]
        done_at = next((e["at"] for e in order["events"] if e["status"] == "delivered"), None)
        if done_at is not None:
            delivered += 1
            finished = datetime.fromisoformat(done_at)
            delivery_seconds += (
                finished - datetime.fromisoformat(order["created_at"])
            ).total_seconds()
            on_time += finished <= datetime.fromisoformat(order["promised_by"])
    return {
        "orders": sum(c["orders"] for c in per_channel.values()),
        "revenue_cents": sum(c["revenue_cents"] for c in per_channel.values()),
        "by_channel": dict(sorted(per_channel.items())),
        "delivered": delivered,
        "on_time_share": on_time / delivered if delivered else None,
        "mean_delivery_s": delivery_seconds / delivered if delivered else None,
    }
