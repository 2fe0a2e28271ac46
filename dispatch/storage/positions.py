"""Couriers' last positions in Redis: ``courier-positions`` (hash courier id -> the last
fix's JSON)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis

from dispatch.positions import Ping
from dispatch.storage.replies import decoded

POSITIONS_KEY = "courier-positions"


def record_position(
    client: redis.Redis, courier_id: str, lat: float, lng: float, at: datetime
) -> None:
    client.hset(POSITIONS_KEY, courier_id, json.dumps(Ping(lat, lng, at).to_record()))


def positions(client: redis.Redis) -> dict[str, Ping]:
    """Courier id -> its last position."""
    raw: Any = client.hgetall(POSITIONS_KEY)
    return {decoded(k): Ping.from_record(json.loads(v)) for k, v in raw.items()}
