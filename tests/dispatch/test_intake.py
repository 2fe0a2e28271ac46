"""Order intake's rules, driven directly (no HTTP) against the order store on a real Redis."""

from __future__ import annotations

import pytest
import redis

from dispatch.idempotency import keys_for
from dispatch.intake_errors import (
    IdempotencyConflictError,
    NoStoreCanFulfilError,
    UnknownSkuError,
    UnknownStoreError,
)
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.orders import RedisOrderStore
from tests.conftest import FIXED_NOW, keyspace
from tests.dispatch.conftest import FULIN, MakeIntake, level, submission


def test_a_retry_gets_the_first_order_and_reserves_once(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """The same submission twice: one order, replayed the second time, stock taken once."""
    first = make_intake().take(submission("R-1", ("water-600ml", 2)))
    store_id = first.order.store_id
    after_first = level(redis_client, store_id, "water-600ml")
    again = make_intake().take(submission("R-1", ("water-600ml", 2)))
    assert not first.replayed and again.replayed
    assert again.order == first.order
    assert level(redis_client, store_id, "water-600ml") == after_first
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 1
    assert stored_orders.get_order(redis_client, first.order.id) == first.order


def test_the_same_id_with_another_body_is_a_conflict_naming_the_order(
    make_intake: MakeIntake,
) -> None:
    """A channel id reused for other goods is refused, naming the order it already made."""
    placed = make_intake().take(submission("C-1", ("water-600ml", 1)))
    with pytest.raises(IdempotencyConflictError) as refused:
        make_intake().take(submission("C-1", ("water-600ml", 3)))
    assert refused.value.order_id == placed.order.id


def test_an_unknown_sku_or_store_is_refused_before_anything_is_written(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """Refused on what the order asks: no claim taken, no order, no stock touched."""
    before = stored_orders.stock_levels(redis_client, keyspace(FULIN))
    with pytest.raises(UnknownSkuError) as unknown:
        make_intake().take(submission("U-1", ("water-600ml", 1), ("unicorn-horn", 1)))
    assert unknown.value.skus == ["unicorn-horn"]
    with pytest.raises(UnknownStoreError):
        make_intake().take(submission("U-2", store_id="osm-node-0"))
    store = RedisOrderStore(redis_client)
    assert store.find_claim(keys_for("app", "U-1", None) + keys_for("app", "U-2", None)) is None
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN)) == before


def test_no_store_can_fulfil_gives_every_reason_and_lets_a_retry_try_again(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """With the goods nowhere in stock the order is refused with each candidate's reason,
    nothing is reserved, and the claim is given back: once stocked, the same order goes in."""
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"umbrella": 0})
    with pytest.raises(NoStoreCanFulfilError) as refused:
        make_intake().take(submission("N-1", ("umbrella", 1)))
    rejections = refused.value.rejections
    assert rejections and all("out_of_stock" in r.reasons for r in rejections)
    assert [r.ride_s for r in rejections] == sorted(r.ride_s for r in rejections)
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
    assert RedisOrderStore(redis_client).find_claim(keys_for("app", "N-1", None)) is None
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1})
    placed = make_intake().take(submission("N-1", ("umbrella", 1)))
    assert placed.order.store_id == FULIN and not placed.replayed
    assert level(redis_client, FULIN, "umbrella") == 0


def test_stock_is_reserved_by_the_order_and_returned_by_its_cancellation(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """Placing takes the order's quantities off its store's shelf; cancelling puts them back."""
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"water-600ml": 10, "apple": 4})
    placed = make_intake().take(submission("S-1", ("water-600ml", 3), ("apple", 2)))
    assert placed.order.store_id == FULIN
    assert (level(redis_client, FULIN, "water-600ml"), level(redis_client, FULIN, "apple")) == (
        7,
        2,
    )
    stored_orders.change_status(redis_client, placed.order.id, "cancelled", at=FIXED_NOW)
    assert (level(redis_client, FULIN, "water-600ml"), level(redis_client, FULIN, "apple")) == (
        10,
        4,
    )
