"""Idempotency claims in Redis (see :mod:`dispatch.idempotency`): SET NX on each key, given
back only by the claim that holds it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis

from dispatch.idempotency import Claim
from dispatch.order_store import order_id_for
from dispatch.orders import Order
from dispatch.storage.order_keys import get_many, order_key, order_regions
from dispatch.storage.replies import decoded

TTL_S = 30 * 24 * 3600  # far longer than any channel retries, not forever

# Give a claim back only if it is still the one we saw (never another request's newer claim).
_DROP_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def claim(client: redis.Redis, keys: Sequence[str], mine: Claim) -> Claim | None:
    """Claim every key for ``mine``; None on success, else the claim found (ours given back)."""
    taken: list[str] = []
    for key in keys:
        while not client.set(key, mine.text(), nx=True, ex=TTL_S):
            raw: Any = client.get(key)
            if raw is not None:  # else it was given back this instant: try again
                drop_claim(client, taken, mine)
                return Claim.parse(decoded(raw))
        taken.append(key)
    return None


def find_claim(client: redis.Redis, keys: Sequence[str]) -> Claim | None:
    """The claim already under any of ``keys``."""
    for value in get_many(client, keys):
        if value is not None:
            return Claim.parse(decoded(value))
    return None


def drop_claim(client: redis.Redis, keys: Sequence[str], held: Claim) -> None:
    """Give back the keys still holding ``held`` (a refused placement, or a stale claim)."""
    for key in keys:
        client.eval(_DROP_CLAIM, 1, key, held.text())  # type: ignore[no-untyped-call]


def claimed_order(client: redis.Redis, ticket: str) -> Order | None:
    """The order placed under ``ticket``, whichever region it went to."""
    raws = get_many(
        client, [order_key(order_id_for(region, ticket)) for region in order_regions(client)]
    )
    return next((Order.from_record(json.loads(raw)) for raw in raws if raw is not None), None)
