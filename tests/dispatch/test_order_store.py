"""The order store's key layout: homes named by order ids, and the layout guard."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch import order_store
from dispatch.errors import ConfigError
from dispatch.order_store import LayoutMismatchError, check_layout, home_of
from dispatch.settings import Settings
from web import create_app


def test_a_changed_region_resolution_is_refused(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Homes follow the region resolution: a service started with another would miss every
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
    assert not redis_client.exists(order_store.LAYOUT_KEY)  # refused again at the next start


def test_an_order_id_names_its_home() -> None:
    assert home_of(order_store.order_id_for("874ba2944ffffff", "00ff")) == "874ba2944ffffff"
    assert home_of(order_store.order_id_for("all", "0123456789abcdef")) == "all"
    for foreign in ("ord_0123456789abcdef", "../x", "ord_{all}_00", "ord_all_", ""):
        assert home_of(foreign) == "-"  # a home never written: a lookup finds nothing


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
    monkeypatch.setattr(order_store, "_PAGE_BATCH", batch)
    monkeypatch.setattr(order_store, "PAGE_SCAN", 1_000 if batch == 100 else 4)
    key = "store-orders:{all}:s1"
    for i, (minute, status) in enumerate(entries):
        order_id = f"ord_all_{i:04x}"
        redis_client.zadd(key, {order_id: 1_700_000_000 + 60 * minute})
        redis_client.set(order_store.order_key(order_id),
                         json.dumps({"id": order_id, "status": status}))  # fmt: skip
    keep = None if only is None else (lambda record: record["status"] == only)
    pages, cursor = [], None
    while True:
        page = order_store.orders_newest_first(
            redis_client, key, cursor=cursor, limit=limit, keep=keep
        )
        pages.append([record["id"] for record in page.orders])
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


def test_a_cursor_not_handed_out_is_refused() -> None:
    """Garbage, a cursor without an id, a time that is not finite: BadCursorError."""
    for cursor in ("", "%%", "bm9wZQ", order_store.page_cursor(float("nan"), "x")):
        with pytest.raises(order_store.BadCursorError):
            order_store.parse_page_cursor(cursor)
    assert order_store.parse_page_cursor(order_store.page_cursor(1.5, "ord_a_1")) == (
        1.5,
        "ord_a_1",
    )
