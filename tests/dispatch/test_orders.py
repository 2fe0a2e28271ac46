"""The order lifecycle: legal moves, the steps a hand-over implies, late counter steps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.orders import (
    FORWARD,
    STATUSES,
    TRANSITIONS,
    IllegalTransitionError,
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
        assert current in FORWARD and FORWARD.index(current) >= FORWARD.index(target)
        return
    assert steps[-1] == target
    here = current
    for step in steps:
        assert step in TRANSITIONS[here], (here, step)
        here = step
