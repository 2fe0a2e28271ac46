"""Pins in Redis: ``pins`` (hash order id -> courier id), a dispatcher's manual assignment
that every re-plan keeps."""

from __future__ import annotations

import redis

from dispatch.storage.replies import text_hash

PINS_KEY = "pins"


def set_pin(client: redis.Redis, order_id: str, courier_id: str | None) -> bool:
    """Pin an order to a courier (kept by every re-plan), or unpin it with None; False when
    there was no pin to remove."""
    if courier_id is None:
        return bool(client.hdel(PINS_KEY, order_id))
    client.hset(PINS_KEY, order_id, courier_id)
    return True


def pins(client: redis.Redis) -> dict[str, str]:
    """Order id -> the courier it is pinned to."""
    return text_hash(client.hgetall(PINS_KEY))
