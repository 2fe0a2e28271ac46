"""The answers given to couriers' phone events, so that a resent event is applied once.

Key: ``courier-events:{region}:<courier>`` (hash: the phone's event id within its order -> the
answer given, with a hash of the body it answered), in the order's region (see
:mod:`dispatch.order_store`), so the answer is written with the status change it records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from dispatch import order_store
from dispatch.storage.couriers import Fields


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """The answer an event got, as the API gave it, and the hash of the body it answered
    (None for answers kept before bodies were hashed)."""

    answer: Mapping[str, Any]
    body_hash: str | None


def courier_events_key(courier_id: str, order_id: str) -> str:
    """Hash of client event id -> the answer given, so a resent event is applied once; in the
    order's region, so the answer is written with the status change it records."""
    return f"courier-events:{{{order_store.region_of_order(order_id)}}}:{courier_id}"


def event_field(order_id: str, event_id: str) -> str:
    """An event's name among a courier's answers: the phone's id within the order (order ids
    have no "/"), so a phone that numbers each order's events from 1 is understood too."""
    return f"{order_id}/{event_id}"


def recorded_answer(
    client: redis.Redis, courier_id: str, order_id: str, event_id: str
) -> EventAnswer | None:
    """The answer this event of this order got, if it came before."""
    key = courier_events_key(courier_id, order_id)
    raw: Any = client.hget(key, event_field(order_id, event_id))
    if raw is None:  # an answer kept before events were named within their order
        raw = client.hget(key, event_id)
        if raw is None or json.loads(raw).get("order_id") != order_id:
            return None
    answer = dict(json.loads(raw))
    body_hash = answer.pop("body_hash", None)
    return EventAnswer(answer, body_hash)


def answer_fields(
    courier_id: str, order_id: str, event_id: str, answer: Mapping[str, Any], *, body_hash: str
) -> Fields:
    """The answer as written beside the order's status change it records."""
    record = json.dumps(dict(answer) | {"body_hash": body_hash})
    return {courier_events_key(courier_id, order_id): {event_field(order_id, event_id): record}}


def save_answer(
    client: redis.Redis, courier_id: str, order_id: str, event_id: str,
    answer: Mapping[str, Any], *, body_hash: str,
) -> None:  # fmt: skip
    """Keep the answer to an event that changes no status."""
    for key, fields in answer_fields(courier_id, order_id, event_id, answer,
                                     body_hash=body_hash).items():  # fmt: skip
        client.hset(key, mapping=fields)  # type: ignore[arg-type]
