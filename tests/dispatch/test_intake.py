"""Order intake's rules, driven directly (no HTTP) against the order store on a real Redis."""

from __future__ import annotations

import csv
from collections.abc import Callable

import pytest
import redis

from dispatch.idempotency import keys_for
from dispatch.intake import Intake, IntakeResult, IntakeRules, Submission, body_hash
from dispatch.intake_batch import take_batch
from dispatch.intake_errors import (
    IdempotencyConflictError,
    NoStoreCanFulfilError,
    UnknownSkuError,
    UnknownStoreError,
)
from dispatch.orders import OrderLine, OrderRequest
from dispatch.products import products_by_sku, read_products_csv
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.orders import RedisOrderStore
from geo.index import StoreIndex
from geo.stores import Store
from geo.travel import StraightLineTravel
from tests.conftest import DEMO_PRODUCTS, DEMO_STOCK, FIXED_NOW, slot

FULIN = "osm-way-617553270"  # the demo 7-Eleven without fresh milk
NEAR_FULIN = (24.18519, 120.61263)

MakeIntake = Callable[[], Intake]


@pytest.fixture
def make_intake(redis_client: redis.Redis, demo_stores: list[Store]) -> MakeIntake:
    """Intakes over the demo stores, products and stock, at the tests' fixed moment."""
    levels: dict[str, dict[str, int]] = {}
    with DEMO_STOCK.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            levels.setdefault(row["store_id"], {})[row["sku"]] = int(row["qty"])
    for store_id, store_levels in levels.items():
        stored_orders.set_stock(redis_client, slot(store_id), store_levels)
    index = StoreIndex(demo_stores)
    products = products_by_sku(read_products_csv(DEMO_PRODUCTS))

    def make() -> Intake:
        return Intake(RedisOrderStore(redis_client), index=index, products=products,
                      travel=StraightLineTravel(), rules=IntakeRules(), now=FIXED_NOW)  # fmt: skip

    return make


def submission(external_id: str = "A-1", *lines: tuple[str, int], **changes: str) -> Submission:
    request = OrderRequest(
        "app", external_id, *NEAR_FULIN, "福林路31巷 152號",
        tuple(OrderLine(sku, qty) for sku, qty in lines or (("water-600ml", 1),)),
        **changes,  # type: ignore[arg-type]
    )  # fmt: skip
    fingerprint = body_hash({"id": external_id, "lines": lines, **changes})
    return Submission(request, fingerprint, header_key=None)


def level(client: redis.Redis, store_id: str, sku: str) -> int:
    return stored_orders.stock_levels(client, slot(store_id)).get(sku, 0)


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
    before = stored_orders.stock_levels(redis_client, slot(FULIN))
    with pytest.raises(UnknownSkuError) as unknown:
        make_intake().take(submission("U-1", ("water-600ml", 1), ("unicorn-horn", 1)))
    assert unknown.value.skus == ["unicorn-horn"]
    with pytest.raises(UnknownStoreError):
        make_intake().take(submission("U-2", store_id="osm-node-0"))
    store = RedisOrderStore(redis_client)
    assert store.find_claim(keys_for("app", "U-1", None) + keys_for("app", "U-2", None)) is None
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
    assert stored_orders.stock_levels(redis_client, slot(FULIN)) == before


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
    stored_orders.set_stock(redis_client, slot(FULIN), {"umbrella": 1})
    placed = make_intake().take(submission("N-1", ("umbrella", 1)))
    assert placed.order.store_id == FULIN and not placed.replayed
    assert level(redis_client, FULIN, "umbrella") == 0


def test_stock_is_reserved_by_the_order_and_returned_by_its_cancellation(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """Placing takes the order's quantities off its store's shelf; cancelling puts them back."""
    stored_orders.set_stock(redis_client, slot(FULIN), {"water-600ml": 10, "apple": 4})
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
