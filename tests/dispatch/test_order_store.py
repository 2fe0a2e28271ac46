"""The order store's pure side: regions named by order ids, and page cursors."""

from __future__ import annotations

import pytest

from dispatch import order_store
from dispatch.order_store import region_of_order


def test_an_order_id_names_its_home() -> None:
    assert region_of_order(order_store.order_id_for("874ba2944ffffff", "00ff")) == "874ba2944ffffff"
    assert region_of_order(order_store.order_id_for("all", "0123456789abcdef")) == "all"
    for foreign in ("ord_0123456789abcdef", "../x", "ord_{all}_00", "ord_all_", ""):
        assert region_of_order(foreign) == "-"  # a region never written: a lookup finds nothing


def test_a_cursor_not_handed_out_is_refused() -> None:
    """Garbage, a cursor without an id, a time that is not finite: BadCursorError."""
    for cursor in ("", "%%", "bm9wZQ", order_store.page_cursor(float("nan"), "x")):
        with pytest.raises(order_store.BadCursorError):
            order_store.parse_page_cursor(cursor)
    assert order_store.parse_page_cursor(order_store.page_cursor(1.5, "ord_a_1")) == (
        1.5,
        "ord_a_1",
    )
