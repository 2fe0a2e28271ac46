"""What the dispatcher's screen watches in Redis, to know when to send a new overview."""

from __future__ import annotations

import hashlib

import redis

from dispatch.storage import code_tries
from dispatch.storage import orders as stored_orders
from dispatch.storage.plans import PLAN_VERSION_KEY
from dispatch.storage.positions import POSITIONS_KEY


def overview_fingerprint(client: redis.Redis) -> str:
    """Changes whenever the plan, a position, the set of open orders or a code lock changes."""
    with client.pipeline(transaction=False) as pipe:
        pipe.get(PLAN_VERSION_KEY)
        pipe.hgetall(POSITIONS_KEY)
        replies = [*pipe.execute(), stored_orders.open_order_ids(client),
                   sorted(code_tries.code_locks(client))]  # fmt: skip
    return hashlib.sha256(repr(replies).encode()).hexdigest()
