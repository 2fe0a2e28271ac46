"""The order lifecycle: legal moves, the steps a hand-over implies, late counter steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.orders import (
    FORWARD,
    ONLY_FOR,
    PICKUP_FORWARD,
    STATUSES,
    TRANSITIONS,
    IllegalTransitionError,
    OrderLine,
    OrderRequest,
    check_fulfilment,
    collect_by,
    steps_to,
)


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
    record = {"fulfilment": "pickup", "status": "ready",
              "events": [{"status": "accepted", "at": "2026-11-21T19:00:00+00:00"},
                         {"status": "ready", "at": ready_at.isoformat()}]}  # fmt: skip
    assert collect_by(record, hold=timedelta(hours=2)) == ready_at + timedelta(hours=2)
    assert collect_by(record | {"status": "collected"}, hold=timedelta(hours=2)) is None
    assert collect_by(record | {"fulfilment": "delivery"}, hold=timedelta(hours=2)) is None


def test_requests_refuse_an_unknown_fulfilment_and_an_empty_campaign() -> None:
    """The value objects hold their own rules, whatever the web layer checked."""
    lines = (OrderLine("water-600ml", 1),)
    with pytest.raises(ValueError, match="fulfilment"):
        OrderRequest("app", "X-1", 24.1, 120.6, "", lines, fulfilment="drone")
    with pytest.raises(ValueError, match="campaign"):
        OrderRequest("app", "X-1", 24.1, 120.6, "", lines, campaign="")
    assert OrderRequest("app", "X-1", 24.1, 120.6, "", lines).fulfilment == "delivery"
