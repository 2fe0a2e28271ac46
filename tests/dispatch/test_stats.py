"""The merchant's figures: the groups add up, shoppers are new or returning, shares are shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.orders import Order, OrderLine, OrderRequest, StatusEvent
from dispatch.stats import REPEAT_WITHIN, store_figures

START = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("accepted", "ready", "delivered", "collected", "cancelled", "expired", "failed")


def order_of(
    channel: str, shopper: str | None, status: str, created: datetime, *, total_cents: int = 100,
    fulfilment: str = "delivery", campaign: str | None = None,
    promised_by: datetime | None = None, events: tuple[StatusEvent, ...] = (),
) -> Order:  # fmt: skip
    """An order of the store with what the figures read of it."""
    request = OrderRequest(channel, "X-1", 24.1, 120.6, "", (OrderLine("water-600ml", 1),),
                           shopper=shopper, fulfilment=fulfilment, campaign=campaign)  # fmt: skip
    return Order("ord_all_1", request, "s1", status, created, promised_by or created,
                 total_cents, "test", events=events)  # fmt: skip


@st.composite
def records(draw: st.DrawFn, *, low: int, high: int) -> Order:
    """An order, created ``low`` to ``high`` hours after START."""
    created = START + timedelta(hours=draw(st.integers(low, high)))
    fulfilment = draw(st.sampled_from(("delivery", "pickup")))
    status = draw(st.sampled_from(STATUSES))
    events = [StatusEvent("accepted", created)]
    if status in ("ready", "delivered", "collected", "expired"):
        late = timedelta(minutes=draw(st.integers(5, 90)))
        done = "delivered" if status == "delivered" else "ready"
        events.append(StatusEvent(done, created + late))
    return order_of(
        draw(st.sampled_from(("app", "wechat", "phone"))),
        draw(st.sampled_from((None, "ann", "ben", "cai", "dee"))),
        status,
        created,
        total_cents=draw(st.integers(100, 10_000)),
        fulfilment=fulfilment,
        campaign=draw(st.sampled_from((None, "QR-1", "COUPON-9"))),
        promised_by=created + timedelta(hours=1),
        events=tuple(events),
    )


@given(
    st.lists(records(low=0, high=24), max_size=30),
    st.lists(records(low=-24 * 60, high=-1), max_size=10),
    st.lists(records(low=25, high=24 * 40), max_size=10),
)
def test_the_figures_add_up(period: list[Order], before: list[Order], after: list[Order]) -> None:
    """Channels and fulfilments each split the orders and revenue; every shopper of a group is
    new or returning; a shopper who bought before the period is never new; shares lie in [0, 1]."""
    figures = store_figures(period, history=[*before, *after])
    for split in ("by_channel", "by_fulfilment"):
        groups = figures[split].values()
        assert sum(g["orders"] for g in groups) == figures["orders"] == len(period)
        assert sum(g["revenue_cents"] for g in groups) == figures["revenue_cents"]
        assert sum(g["cancelled"] for g in groups) == figures["cancelled"]
    sold = {"accepted", "ready", "delivered", "collected"}
    assert figures["revenue_cents"] == sum(o.total_cents for o in period if o.status in sold)
    bought_before = {o.request.shopper for o in before if o.status in sold and o.request.shopper}
    for group in [figures, *(g for s in ("by_channel", "by_fulfilment", "by_campaign")
                             for g in figures[s].values())]:  # fmt: skip
        assert group["new_shoppers"] + group["returning_shoppers"] == group["shoppers"]
        assert group["shoppers"] <= group["orders"]
        for share in ("repeat_rate_30d", "on_time_share"):
            assert group[share] is None or 0 <= group[share] <= 1
    buyers = {o.request.shopper for o in period if o.status in sold and o.request.shopper}
    assert figures["shoppers"] == len(buyers)
    assert figures["new_shoppers"] == len(buyers - bought_before)
    assert set(figures["by_campaign"]) == {o.request.campaign for o in period if o.request.campaign}


def test_a_repeat_counts_within_thirty_days_only() -> None:
    """Bought again 29 days later: a repeat; 31 days later: none; cancelled: none."""

    def order(shopper: str, after: timedelta, status: str = "accepted") -> Order:
        return order_of("app", shopper, status, START + after)

    period = [order("ann", timedelta()), order("ben", timedelta()), order("cai", timedelta())]
    later = [order("ann", REPEAT_WITHIN - timedelta(days=1)),
             order("ben", REPEAT_WITHIN + timedelta(days=1)),
             order("cai", timedelta(days=3), status="cancelled")]  # fmt: skip
    figures = store_figures(period, history=later)
    assert figures["repeat_rate_30d"] == 1 / 3
    assert figures["new_shoppers"] == 3
