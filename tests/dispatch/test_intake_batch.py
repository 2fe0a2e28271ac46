"""Bulk intake, driven directly: twins and conflicts within a batch, contended stock shared."""

from __future__ import annotations

import redis

from dispatch.intake import IntakeResult
from dispatch.intake_batch import take_batch
from dispatch.intake_errors import IdempotencyConflictError, NoStoreCanFulfilError
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from tests.conftest import keyspace
from tests.dispatch.conftest import FULIN, FUSHUN, MakeIntake, submission


def test_a_batch_places_twins_once_and_refuses_a_conflict_within_it(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """The same order twice in one batch is one order; the same id with other goods, refused
    naming the first, before anything of it is written."""
    results = take_batch(make_intake(), [
        submission("B-1", ("water-600ml", 1)),
        submission("B-1", ("water-600ml", 1)),
        submission("B-1", ("water-600ml", 2)),
        submission("B-2", ("water-600ml", 1)),
    ])  # fmt: skip
    first, twin, clash, other = results
    assert isinstance(first, IntakeResult) and isinstance(twin, IntakeResult)
    assert twin.replayed and twin.order == first.order
    assert isinstance(clash, IdempotencyConflictError) and clash.same_as == 0
    assert isinstance(other, IntakeResult) and other.order.id != first.order.id
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 2


def only_fulin_and_fushun_have_umbrellas(client: redis.Redis) -> None:
    for stocked in stored_orders.stocked_stores(client):
        stored_orders.set_stock(client, stocked, {"umbrella": 0, "pain-relief": 0})
    stored_orders.set_stock(client, keyspace(FULIN), {"umbrella": 1, "pain-relief": 5})
    stored_orders.set_stock(client, keyspace(FUSHUN), {"umbrella": 1})


def test_the_batch_serves_both_where_one_by_one_strands_one(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """X can go to either store, Y (umbrella and pain relief) only to Fulin: the batch sends X
    to Fushun Road; one by one, X takes Fulin's umbrella and Y is refused."""
    only_fulin_and_fushun_have_umbrellas(redis_client)
    x = submission("X-1", ("umbrella", 1))
    y = submission("Y-1", ("umbrella", 1), ("pain-relief", 1))
    first, second = take_batch(make_intake(), [x, y])
    assert isinstance(first, IntakeResult) and isinstance(second, IntakeResult)
    assert (first.order.store_id, second.order.store_id) == (FUSHUN, FULIN)
    kept = {p["store_id"]: p["reasons"] for p in first.order.passed_over}
    assert kept[FULIN] == ["kept_for_other_orders_in_batch"]
    redis_client.flushall()
    only_fulin_and_fushun_have_umbrellas(redis_client)
    alone = take_batch(make_intake(), [x])[0]
    assert isinstance(alone, IntakeResult) and alone.order.store_id == FULIN
    stranded = take_batch(make_intake(), [y])[0]
    assert isinstance(stranded, NoStoreCanFulfilError)
