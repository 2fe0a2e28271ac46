"""Couriers' event answers in Redis: found by the event's id within its order, or (answers kept
before that) by the bare id when it names the same order."""

from __future__ import annotations

import json

import redis

from dispatch.storage.courier_events import (
    answer_fields,
    courier_events_key,
    recorded_answer,
    save_answer,
)

ORDER = "ord_all_0123abcd"


def test_an_answer_is_found_again_with_its_body_hash(redis_client: redis.Redis) -> None:
    assert recorded_answer(redis_client, "c1", ORDER, "e1") is None
    save_answer(redis_client, "c1", ORDER, "e1", {"type": "arrived"}, body_hash="h1")
    found = recorded_answer(redis_client, "c1", ORDER, "e1")
    assert found is not None and dict(found.answer) == {"type": "arrived"}
    assert found.body_hash == "h1"
    assert recorded_answer(redis_client, "c2", ORDER, "e1") is None  # another courier's
    assert recorded_answer(redis_client, "c1", "ord_all_ffff", "e1") is None  # another order


def test_an_answer_kept_under_its_bare_id_counts_for_its_own_order_only(
    redis_client: redis.Redis,
) -> None:
    key = courier_events_key("c1", ORDER)
    redis_client.hset(key, "old", json.dumps({"order_id": ORDER, "type": "picked_up"}))
    found = recorded_answer(redis_client, "c1", ORDER, "old")
    assert found is not None and found.body_hash is None
    assert found.answer["type"] == "picked_up"
    redis_client.hset(key, "other", json.dumps({"order_id": "ord_all_ffff"}))
    assert recorded_answer(redis_client, "c1", ORDER, "other") is None


def test_the_fields_written_with_a_status_change_are_the_answer() -> None:
    fields = answer_fields("c1", ORDER, "e2", {"status": "delivered"}, body_hash="h2")
    ((key, written),) = fields.items()
    assert key == courier_events_key("c1", ORDER) and key.startswith("courier-events:{all}:")
    assert json.loads(written[f"{ORDER}/e2"]) == {"status": "delivered", "body_hash": "h2"}
