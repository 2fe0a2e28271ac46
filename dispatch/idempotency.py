"""Idempotency of order intake: who holds a request's keys, and which keys a request has (pure;
the claims themselves are kept by :mod:`dispatch.storage.claims`).

A placement first claims its keys (``idem:channel:<channel>:<id>``, and ``idem:key:<key>`` for an
Idempotency-Key header) one key at a time, so they may sit in any Redis Cluster slot; then it
places the order under an id made of its ticket (see :func:`dispatch.order_store.order_id_for`).
A retry that finds the claim looks the order up by the ticket; a claim whose placement was
refused is given back, and one whose process died before placing grows stale and may be taken
over.

Keys belong to a *scope*: a shopper's (or a store's) keys are theirs alone
(``idem:<length of scope>:<scope>:...``), so another caller reusing them gets an order of their
own and learns nothing of the first; staff callers, the channels' integrations, share the
unscoped keys, so a retry under any staff token gets its order back.
"""

from __future__ import annotations

from dataclasses import dataclass


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
