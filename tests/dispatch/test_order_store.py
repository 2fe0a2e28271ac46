"""The order store's key layout: homes named by order ids, and the layout guard."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis

from dispatch import order_store
from dispatch.order_store import LayoutMismatchError, check_layout, home_of
from web import create_app
from web.errors import ConfigError
from web.settings import Settings


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
