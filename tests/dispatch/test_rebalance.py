"""Re-balancing, driven directly: an order moves to a nearer store once it can serve it."""

from __future__ import annotations

import redis

from dispatch.rebalance import rebalance
from dispatch.storage import orders as stored_orders
from tests.conftest import keyspace
from tests.dispatch.conftest import FULIN, FUSHUN, MakeIntake, level, submission


def test_an_order_moves_to_the_restocked_nearer_store_with_its_stock(
    make_intake: MakeIntake, redis_client: redis.Redis
) -> None:
    """Placed at Fushun Road while Fulin had no umbrella; once Fulin has one the order moves
    there, the stock with it, and a second pass finds nothing to improve."""
    for stocked in stored_orders.stocked_stores(redis_client):
        stored_orders.set_stock(redis_client, stocked, {"umbrella": 0})
    stored_orders.set_stock(redis_client, keyspace(FUSHUN), {"umbrella": 1})
    placed = make_intake().take(submission("M-1", ("umbrella", 1))).order
    assert placed.store_id == FUSHUN
    stored_orders.set_stock(redis_client, keyspace(FULIN), {"umbrella": 1})
    report = rebalance(make_intake())
    assert report.considered == 1
    assert report.moves == ((placed.id, FUSHUN, FULIN),)
    assert report.ride_after_s < report.ride_before_s
    moved = stored_orders.get_order(redis_client, placed.id)
    assert moved is not None and moved.store_id == FULIN and moved.status == "accepted"
    assert moved.events[-1].note == f"re-balanced from {FUSHUN} to {FULIN}"
    assert level(redis_client, FULIN, "umbrella") == 0
    assert level(redis_client, FUSHUN, "umbrella") == 1
    assert rebalance(make_intake()).moves == ()
