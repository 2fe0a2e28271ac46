"""Orders in Redis: the key layout guard, and pages of a time index."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.errors import ConfigError
from dispatch.orders import Order, OrderLine, OrderRequest
from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.order_keys import LayoutMismatchError, check_layout
from web import create_app


def test_a_changed_region_resolution_is_refused(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Regions follow the region resolution: a service started with another would miss every
    store's stock, so it refuses to start instead."""
    check_layout(redis_client, None)
    check_layout(redis_client, None)  # the same layout again: fine
    with pytest.raises(LayoutMismatchError, match="DISPATCH_REGION_RESOLUTION"):
        check_layout(redis_client, 7)
    with pytest.raises(ConfigError, match="DISPATCH_REGION_RESOLUTION"):
        create_app(replace(settings, region_resolution=7))


def test_data_in_the_earlier_layout_is_refused(redis_client: redis.Redis) -> None:
    redis_client.zadd("orders:open", {"ord_0123456789abcdef": 1.0})
    with pytest.raises(LayoutMismatchError, match="earlier version"):
        check_layout(redis_client, None)
    assert not redis_client.exists(order_keys.LAYOUT_KEY)  # refused again at the next start


ORDER = Order(  # what a page shows of it: its id and status
    id="ord_all_0",
    request=OrderRequest("app", "P-1", 24.8, 121.0, "", (OrderLine("water-600ml", 1),)),
    store_id="s1",
    status="accepted",
    created_at=datetime(2026, 11, 21, 19, 0, tzinfo=UTC),
    promised_by=datetime(2026, 11, 21, 20, 0, tzinfo=UTC),
    total_cents=100,
    match_reason="test",
)
index_entries = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(["accepted", "preparing"])),
    max_size=25,
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(entries=index_entries, limit=st.integers(1, 7), only=st.sampled_from([None, "accepted"]),
       batch=st.sampled_from([100, 2]))  # fmt: skip
def test_pages_hold_every_order_once_newest_first(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, entries: list[tuple[int, str]],
    limit: int, only: str | None, batch: int,
) -> None:  # fmt: skip
    """Whatever the times (many equal), the filter and how many ids a page may read, following
    next_cursor gives each kept order exactly once, newest first and by id within a time; with
    no limit on reading, every page is full but the last."""
    redis_client.flushall()
    monkeypatch.setattr(stored_orders, "_PAGE_BATCH", batch)
    monkeypatch.setattr(stored_orders, "PAGE_SCAN", 1_000 if batch == 100 else 4)
    key = "store-orders:{all}:s1"
    for i, (minute, status) in enumerate(entries):
        order_id = f"ord_all_{i:04x}"
        redis_client.zadd(key, {order_id: 1_700_000_000 + 60 * minute})
        record = replace(ORDER, id=order_id, status=status).to_record()
        redis_client.set(order_keys.order_key(order_id), json.dumps(record))
    keep = None if only is None else (lambda order: order.status == only)
    pages, cursor = [], None
    while True:
        page = stored_orders.orders_newest_first(
            redis_client, key, cursor=cursor, limit=limit, keep=keep
        )
        pages.append([order.id for order in page.orders])
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(pages) <= len(entries) + 1
    listed = [order_id for page in pages for order_id in page]
    expected = sorted(
        (f"ord_all_{i:04x}" for i, (_, status) in enumerate(entries) if only in (None, status)),
        key=lambda order_id: (-entries[int(order_id[8:], 16)][0], [-ord(c) for c in order_id]),
    )
    assert listed == expected
    assert all(len(page) <= limit for page in pages)
    if batch == 100:
        assert all(len(page) == limit for page in pages[:-1])
