"""Waiting on a twin: when a request's idempotency keys are already claimed, the order the
claim's holder placed, once it lands (see :mod:`dispatch.idempotency`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from dispatch.idempotency import Claim
from dispatch.intake_errors import IdempotencyConflictError, IdempotencyInProgressError
from dispatch.order_store import OrderStore
from dispatch.orders import Order

CLAIM_WAIT_S = 2.0  # how long a retry waits for its twin's placement to land
CLAIM_STALE_S = 120.0  # a claim this old with no order behind it was left by a dead process


def settle(
    store: OrderStore, keys: Sequence[str], fingerprint: str, held: Claim, *, now: datetime
) -> Order | None:
    """The order an earlier request with the same ``keys`` placed (``held``: its claim); None
    once its claim is gone (refused, or stale: its process died before placing). Waits briefly
    for one in flight; another body under the same keys is a conflict."""
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:
        order = store.claimed_order(held.ticket)
        if held.body_hash != fingerprint:
            raise IdempotencyConflictError(order.id if order else None)
        if order is not None:
            return order
        if now.timestamp() - held.claimed_at > CLAIM_STALE_S:
            store.drop_claim(keys, held)
            return None
        if time.monotonic() > deadline:
            raise IdempotencyInProgressError
        time.sleep(0.05)
        again = store.find_claim(keys)
        if again is None:
            return None
        held = again


def claim_or_replay(
    store: OrderStore, keys: Sequence[str], fingerprint: str, ticket: str, *, now: datetime
) -> Order | None:
    """Claim ``keys`` for ``ticket``; the earlier order if a twin request holds them."""
    mine = Claim(ticket, fingerprint, now.timestamp())
    for _ in range(5):
        held = store.claim(keys, mine)
        if held is None:
            return None
        replay = settle(store, keys, fingerprint, held, now=now)
        if replay is not None:
            return replay
    raise IdempotencyInProgressError
