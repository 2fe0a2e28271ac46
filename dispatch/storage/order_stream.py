"""Waiting for new orders on the order stream (``orders:stream``, see
:mod:`dispatch.storage.orders`)."""

from __future__ import annotations

from typing import Any

import redis

from dispatch.storage import order_keys
from dispatch.storage.replies import decoded

FROM_NOW = "$"  # the stream position before any order still to come


def wait_for_orders(client: redis.Redis, after: str, *, block_s: float) -> str:
    """Wait up to ``block_s`` for orders placed after stream position ``after``; the position
    of the newest read (``after`` itself when none came)."""
    replies: Any = client.xread({order_keys.ORDER_STREAM: after}, block=int(block_s * 1000))
    return decoded(replies[0][1][-1][0]) if replies else after
