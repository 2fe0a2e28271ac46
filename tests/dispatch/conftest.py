"""Fixtures of the dispatch tests: intakes over the demo stores on the real Redis."""

from __future__ import annotations

import csv
from collections.abc import Callable

import pytest
import redis

from dispatch.intake import Intake, IntakeRules, Submission, body_hash
from dispatch.orders import OrderLine, OrderRequest
from dispatch.products import products_by_sku, read_products_csv
from dispatch.storage import orders as stored_orders
from dispatch.storage.orders import RedisOrderStore
from geo.index import StoreIndex
from geo.stores import Store
from geo.travel import StraightLineTravel
from tests.conftest import DEMO_PRODUCTS, DEMO_STOCK, FIXED_NOW, keyspace

FULIN = "osm-way-617553270"  # the demo 7-Eleven without fresh milk
FUSHUN = "osm-node-3559052551"  # a 7-Eleven about 450 m from Fulin
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
        stored_orders.set_stock(redis_client, keyspace(store_id), store_levels)
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
    return stored_orders.stock_levels(client, keyspace(store_id)).get(sku, 0)
