"""The order lifecycle: legal moves, the steps a hand-over implies, late counter steps; records
read back as the orders they were."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.orders import (
    CHANNELS,
    ENDED_UNSOLD,
    FINAL_STATUSES,
    FORWARD,
    FULFILMENTS,
    GIVES_STOCK_BACK,
    MAX_CAMPAIGN,
    MAX_QTY,
    ONLY_FOR,
    PICKUP_FORWARD,
    SCHEDULE_FIELDS,
    STATUSES,
    TRANSITIONS,
    Cancellation,
    IllegalTransitionError,
    Order,
    OrderLine,
    OrderRequest,
    StatusEvent,
    arrived_at,
    check_fulfilment,
    collect_by,
    on_time,
    steps_to,
)
from dispatch.schedule import schedule_for


def test_a_pick_up_implies_the_counter_steps_it_skipped() -> None:
    """From accepted or preparing, a pick-up records preparing and ready on the way."""
    assert steps_to("accepted", "picked_up") == ("preparing", "ready", "picked_up")
    assert steps_to("preparing", "picked_up") == ("ready", "picked_up")
    assert steps_to("ready", "picked_up") == ("picked_up",)
    assert steps_to("accepted", "ready") == ("preparing", "ready")  # a counter that skips ahead


def test_late_counter_steps_are_acknowledged_but_not_after_an_end() -> None:
    """The store's preparing/ready on an order already past it change nothing; on a cancelled
    or failed order they are still refused (the store must learn it was cancelled)."""
    assert steps_to("picked_up", "ready") == ()
    assert steps_to("ready", "ready") == ()
    assert steps_to("delivered", "preparing") == ()
    for ended in ("cancelled", "failed"):
        with pytest.raises(IllegalTransitionError):
            steps_to(ended, "ready")
    with pytest.raises(IllegalTransitionError):
        steps_to("accepted", "delivered")  # a delivery needs a pick-up first
    with pytest.raises(IllegalTransitionError):
        steps_to("picked_up", "picked_up")  # a second hand-over is never waved through
    with pytest.raises(ValueError, match="unknown status"):
        steps_to("accepted", "teleported")


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_every_path_is_made_of_legal_moves(current: str, target: str) -> None:
    """Whatever steps_to answers is a chain of legal single moves ending at the target, or
    nothing for a target the order is already at or past on the forward path."""
    try:
        steps = steps_to(current, target)
    except IllegalTransitionError:
        assert target not in TRANSITIONS[current]
        return
    if not steps:
        path = PICKUP_FORWARD if current == "collected" else FORWARD
        assert current in path and path.index(current) >= path.index(target)
        return
    assert steps[-1] == target
    here = current
    for step in steps:
        assert step in TRANSITIONS[here], (here, step)
        here = step


def test_a_counter_hand_over_implies_ready_and_ends_the_order() -> None:
    """Collected from preparing records ready first; collected and expired are final; a late
    ready on a collected order changes nothing; expiry comes only from ready."""
    assert steps_to("preparing", "collected") == ("ready", "collected")
    assert steps_to("ready", "expired") == ("expired",)
    assert steps_to("collected", "ready") == ()
    assert not TRANSITIONS["collected"] and not TRANSITIONS["expired"]
    with pytest.raises(IllegalTransitionError):
        steps_to("accepted", "expired")
    with pytest.raises(IllegalTransitionError):
        steps_to("expired", "collected")


@given(st.sampled_from(("delivery", "pickup")), st.sampled_from(STATUSES))
def test_each_fulfilment_reaches_only_its_own_statuses(fulfilment: str, target: str) -> None:
    """A pick-up order never goes to a courier's statuses, a delivery never to the counter's."""
    if ONLY_FOR.get(target, fulfilment) == fulfilment:
        check_fulfilment(fulfilment, target)
    else:
        with pytest.raises(IllegalTransitionError):
            check_fulfilment(fulfilment, target)


def test_a_ready_pick_up_is_kept_for_the_hold() -> None:
    """collect_by is the last ready event plus the hold, only for a pick-up that is ready."""
    ready_at = datetime(2026, 11, 21, 19, 10, tzinfo=UTC)
    placed = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    lines = (OrderLine("water-600ml", 1),)
    pickup = OrderRequest("app", "X-1", 24.1, 120.6, "", lines, fulfilment="pickup")
    record = Order(
        "ord_all_1",
        pickup,
        "s1",
        "ready",
        placed,
        placed + timedelta(hours=1),
        100,
        "test",
        events=(StatusEvent("accepted", placed), StatusEvent("ready", ready_at)),
    )
    assert collect_by(record, hold=timedelta(hours=2)) == ready_at + timedelta(hours=2)
    assert collect_by(replace(record, status="collected"), hold=timedelta(hours=2)) is None
    delivery = replace(pickup, fulfilment="delivery")
    assert collect_by(replace(record, request=delivery), hold=timedelta(hours=2)) is None


def test_requests_refuse_an_unknown_fulfilment_and_an_empty_campaign() -> None:
    """The value objects hold their own rules, whatever the web layer checked."""
    lines = (OrderLine("water-600ml", 1),)
    with pytest.raises(ValueError, match="fulfilment"):
        OrderRequest("app", "X-1", 24.1, 120.6, "", lines, fulfilment="drone")
    with pytest.raises(ValueError, match="campaign"):
        OrderRequest("app", "X-1", 24.1, 120.6, "", lines, campaign="")
    assert OrderRequest("app", "X-1", 24.1, 120.6, "", lines).fulfilment == "delivery"


MOMENTS = st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC))
WORDS = st.text(max_size=12)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """Any order the service could keep: scheduled or not, cancelled or not, any history."""
    lines = draw(st.lists(st.builds(OrderLine, st.text(min_size=1, max_size=8),
                                    st.integers(1, MAX_QTY)),
                          min_size=1, max_size=4, unique_by=lambda line: line.sku))  # fmt: skip
    fulfilment = draw(st.sampled_from(FULFILMENTS))
    schedule = None
    if draw(st.booleans()):
        schedule = schedule_for(draw(MOMENTS), prep_time_s=draw(st.integers(0, 3600)),
                                ride_s=draw(st.floats(0, 3600)),
                                pickup=fulfilment == "pickup")  # fmt: skip
    request = OrderRequest(
        draw(st.sampled_from(CHANNELS)), draw(WORDS), draw(st.floats(-90, 90)),
        draw(st.floats(-180, 180)), draw(WORDS), tuple(lines), draw(WORDS),
        draw(st.none() | WORDS), draw(st.none() | WORDS), fulfilment,
        draw(st.none() | st.text(min_size=1, max_size=MAX_CAMPAIGN)), contact=draw(WORDS),
        deliver_at=None if schedule is None else schedule.deliver_at,
    )  # fmt: skip
    rejection = st.fixed_dictionaries(
        {"store_id": WORDS, "ride_s": st.floats(0, 1e4), "reasons": st.lists(WORDS, max_size=2)}
    )
    return Order(
        id=draw(WORDS), request=request, store_id=draw(WORDS),
        status=draw(st.sampled_from(STATUSES)), created_at=draw(MOMENTS),
        promised_by=draw(MOMENTS), total_cents=draw(st.integers(0, 10**7)),
        match_reason=draw(WORDS),
        passed_over=tuple(draw(st.lists(rejection, max_size=3))),
        events=tuple(draw(st.lists(st.builds(StatusEvent, st.sampled_from(STATUSES), MOMENTS,
                                             WORDS), max_size=4))),
        schedule=schedule,
        cancellation=draw(st.none() | st.builds(Cancellation, WORDS, WORDS, MOMENTS)),
    )  # fmt: skip


@given(orders())
def test_a_record_reads_back_as_the_order_it_was(order: Order) -> None:
    """from_record inverts to_record through JSON, as Redis keeps it: the same order, the same
    record."""
    record = json.loads(json.dumps(order.to_record(), ensure_ascii=False))
    again = Order.from_record(record)
    assert again == order
    assert again.to_record() == record


def test_a_record_written_before_the_newer_fields_reads_with_their_defaults() -> None:
    """An order kept before fulfilment, campaign and contact existed is a delivery with none."""
    placed = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    request = OrderRequest("app", "X-1", 24.1, 120.6, "here", (OrderLine("water-600ml", 2),))
    order = Order("ord_all_1", request, "s1", "accepted", placed, placed + timedelta(hours=1),
                  100, "test", events=(StatusEvent("accepted", placed),))  # fmt: skip
    old = {k: v for k, v in order.to_record().items()
           if k not in ("fulfilment", "campaign", "contact", *SCHEDULE_FIELDS)}  # fmt: skip
    assert Order.from_record(old) == order


def test_on_time_is_getting_there_by_the_promise() -> None:
    """A delivery counts when delivered, a pick-up when ready at the counter, each against its
    promise; one cancelled or failed after that, or not there yet, did not get there."""
    placed = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    promise = placed + timedelta(hours=1)
    lines = (OrderLine("water-600ml", 1),)
    delivery = Order("ord_all_1", OrderRequest("app", "X-1", 24.1, 120.6, "", lines), "s1",
                     "accepted", placed, promise, 100, "test",
                     events=(StatusEvent("accepted", placed),))  # fmt: skip
    assert arrived_at(delivery) is None and on_time(delivery) is None
    for late_by, kept in ((timedelta(0), True), (timedelta(seconds=1), False)):
        done = delivery.stepped(("picked_up", "delivered"), at=promise + late_by, note="")
        assert arrived_at(done) == promise + late_by and on_time(done) is kept
    pickup = replace(delivery, request=replace(delivery.request, fulfilment="pickup"))
    ready = pickup.stepped(("preparing", "ready"), at=promise, note="")
    assert on_time(ready) is True
    assert on_time(ready.stepped(("expired",), at=promise + timedelta(hours=3), note="")) is True
    assert on_time(ready.stepped(("cancelled",), at=promise, note="")) is None


def test_final_statuses_are_those_nothing_follows() -> None:
    """One definition: the final statuses are the lifecycle's ends; the unsold ends give the
    stock back."""
    assert {s for s in STATUSES if not TRANSITIONS[s]} == FINAL_STATUSES
    assert ENDED_UNSOLD == GIVES_STOCK_BACK == {"cancelled", "failed", "expired"}
