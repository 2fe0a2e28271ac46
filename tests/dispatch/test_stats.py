"""The merchant's figures: the groups add up, shoppers are new or returning, shares are shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dispatch.stats import REPEAT_WITHIN, store_figures

START = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("accepted", "ready", "delivered", "collected", "cancelled", "expired", "failed")


@st.composite
def records(draw: st.DrawFn, *, low: int, high: int) -> dict[str, Any]:
    """An order record as stored, created ``low`` to ``high`` hours after START."""
    created = START + timedelta(hours=draw(st.integers(low, high)))
    fulfilment = draw(st.sampled_from(("delivery", "pickup")))
    status = draw(st.sampled_from(STATUSES))
    events = [{"status": "accepted", "at": created.isoformat()}]
    if status in ("ready", "delivered", "collected", "expired"):
        late = timedelta(minutes=draw(st.integers(5, 90)))
        done = "delivered" if status == "delivered" else "ready"
        events.append({"status": done, "at": (created + late).isoformat()})
    return {
        "channel": draw(st.sampled_from(("app", "wechat", "phone"))),
        "fulfilment": fulfilment,
        "campaign": draw(st.sampled_from((None, "QR-1", "COUPON-9"))),
        "shopper_id": draw(st.sampled_from((None, "ann", "ben", "cai", "dee"))),
        "status": status,
        "total_cents": draw(st.integers(100, 10_000)),
        "created_at": created.isoformat(),
        "promised_by": (created + timedelta(hours=1)).isoformat(),
        "events": events,
    }


@given(
    st.lists(records(low=0, high=24), max_size=30),
    st.lists(records(low=-24 * 60, high=-1), max_size=10),
    st.lists(records(low=25, high=24 * 40), max_size=10),
)
def test_the_figures_add_up(
    period: list[dict[str, Any]], before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    """Channels and fulfilments each split the orders and revenue; every shopper of a group is
    new or returning; a shopper who bought before the period is never new; shares lie in [0, 1]."""
    figures = store_figures(period, history=[*before, *after])
    for split in ("by_channel", "by_fulfilment"):
        groups = figures[split].values()
        assert sum(g["orders"] for g in groups) == figures["orders"] == len(period)
        assert sum(g["revenue_cents"] for g in groups) == figures["revenue_cents"]
        assert sum(g["cancelled"] for g in groups) == figures["cancelled"]
    sold = {"accepted", "ready", "delivered", "collected"}
    assert figures["revenue_cents"] == sum(o["total_cents"] for o in period if o["status"] in sold)
    bought_before = {o["shopper_id"] for o in before if o["status"] in sold and o["shopper_id"]}
    for group in [figures, *(g for s in ("by_channel", "by_fulfilment", "by_campaign")
                             for g in figures[s].values())]:  # fmt: skip
        assert group["new_shoppers"] + group["returning_shoppers"] == group["shoppers"]
        assert group["shoppers"] <= group["orders"]
        for share in ("repeat_rate_30d", "on_time_share"):
            assert group[share] is None or 0 <= group[share] <= 1
    buyers = {o["shopper_id"] for o in period if o["status"] in sold and o["shopper_id"]}
    assert figures["shoppers"] == len(buyers)
    assert figures["new_shoppers"] == len(buyers - bought_before)
    assert set(figures["by_campaign"]) == {o["campaign"] for o in period if o["campaign"]}


def test_a_repeat_counts_within_thirty_days_only() -> None:
    """Bought again 29 days later: a repeat; 31 days later: none; cancelled: none."""

    def order(shopper: str, after: timedelta, status: str = "accepted") -> dict[str, Any]:
        created = START + after
        return {"channel": "app", "shopper_id": shopper, "status": status, "total_cents": 100,
                "created_at": created.isoformat(), "promised_by": created.isoformat(),
                "events": []}  # fmt: skip

    period = [order("ann", timedelta()), order("ben", timedelta()), order("cai", timedelta())]
    later = [order("ann", REPEAT_WITHIN - timedelta(days=1)),
             order("ben", REPEAT_WITHIN + timedelta(days=1)),
             order("cai", timedelta(days=3), status="cancelled")]  # fmt: skip
    figures = store_figures(period, history=later)
    assert figures["repeat_rate_30d"] == 1 / 3
    assert figures["new_shoppers"] == 3
