"""Idempotency of order intake across Redis Cluster slots.

A placement first claims its keys (``idem:channel:<channel>:<id>``, and ``idem:key:<key>`` for an
Idempotency-Key header) with SET NX, one key at a time, so they may sit in any slot; then it
places the order under an id made of its ticket (see :mod:`dispatch.order_store`). A retry that
finds the claim looks the order up by the ticket; a claim whose placement was refused is given
back, and one whose process died before placing grows stale and may be taken over.

Keys belong to a *scope*: a shopper's (or a store's) keys are theirs alone
(``idem:<length of scope>:<scope>:...``), so another caller reusing them gets an order of their
own and learns nothing of the first; staff callers, the channels' integrations, share the
unscoped keys, so a retry under any staff token gets its order back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from dispatch.order_store import get_many, homes, order_id_for, order_key
from dispatch.storage.replies import decoded

TTL_S = 30 * 24 * 3600  # far longer than any channel retries, not forever

# Give a claim back only if it is still the one we saw (never another request's newer claim).
_DROP_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds an idempotency key: the placement ticket, its body hash and when it claimed."""

    ticket: str
    body_hash: str
    claimed_at: float

    def text(self) -> str:
        return f"{self.ticket}\t{self.body_hash}\t{self.claimed_at!r}"

    @classmethod
    def parse(cls, text: str) -> Claim:
        ticket, body_hash, claimed_at = text.split("\t")
        return cls(ticket, body_hash, float(claimed_at))


def keys_for(
    channel: str, external_id: str, header_key: str | None, *, scope: str | None = None
) -> list[str]:
    """The idempotency keys of a request in ``scope`` (None: the staff's shared space)."""
    # the scope's length first: no scope and id, however chosen, can spell another's key
    prefix = "idem:" if scope is None else f"idem:{len(scope)}:{scope}:"
    keys = [f"{prefix}channel:{channel}:{external_id}"]
    if header_key:
        keys.append(f"{prefix}key:{header_key}")
    return keys


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


def claimed_order(client: redis.Redis, ticket: str) -> dict[str, Any] | None:
    """The order placed under ``ticket``, whichever home it went to."""
    raws = get_many(client, [order_key(order_id_for(home, ticket)) for home in homes(client)])
    return next((json.loads(raw) for raw in raws if raw is not None), None)
