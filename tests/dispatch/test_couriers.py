"""Couriers' shifts on several days, deactivation, registering again."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.couriers import (
    SHIFT_LOOKAHEAD,
    CourierProfile,
    Shift,
    ShiftOverlapError,
    registered,
    with_shift,
)
from tests.conftest import FIXED_NOW

HOUR = timedelta(hours=1)


def courier(courier_id: str = "c1", **changes: object) -> CourierProfile:
    base = CourierProfile(
        courier_id, courier_id, "e-bike", 3, FIXED_NOW - HOUR, FIXED_NOW + 4 * HOUR, 24.18, 120.6
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_record_round_trips_with_its_shifts_and_state() -> None:
    tomorrow = Shift(FIXED_NOW + 20 * HOUR, FIXED_NOW + 28 * HOUR)
    profile = courier(
        extra_shifts=(tomorrow,), active=False, deactivated_at=FIXED_NOW, deactivation_reason="left"
    )
    record = profile.to_record()
    assert [s["id"] for s in record["shifts"]] == ["20261121T1800Z", "20261122T1500Z"]
    assert CourierProfile.from_record(record) == profile
    old = {k: v for k, v in record.items() if k not in ("shifts", "active", "deactivated_at")}
    assert CourierProfile.from_record(old).active is True  # records from before still read


def test_overlapping_shifts_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        courier(extra_shifts=(Shift(FIXED_NOW + HOUR, FIXED_NOW + 10 * HOUR),))
    with pytest.raises(ShiftOverlapError) as caught:
        with_shift(courier(), Shift(FIXED_NOW, FIXED_NOW + HOUR), now=FIXED_NOW)
    assert caught.value.shift.id == "20261121T1800Z"


def test_the_shift_around_a_moment() -> None:
    tomorrow = Shift(FIXED_NOW + 20 * HOUR, FIXED_NOW + 28 * HOUR)
    profile = courier(extra_shifts=(tomorrow,))
    assert profile.shift_around(FIXED_NOW) == Shift(profile.shift_start, profile.shift_end)
    assert profile.shift_around(FIXED_NOW + 10 * HOUR) is None  # between shifts
    # past the first shift with goods on board: still that shift (overtime), not tomorrow's
    assert profile.shift_around(FIXED_NOW + 10 * HOUR, carrying=True).end == profile.shift_end
    assert profile.shift_around(FIXED_NOW + 20 * HOUR - SHIFT_LOOKAHEAD) == tomorrow
    assert profile.shift_around(FIXED_NOW + 27 * HOUR) == tomorrow


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-48, 300), st.integers(1, 16)), max_size=12),
    st.integers(-60, 400),
)
def test_added_shifts_never_overlap_and_the_shift_around_holds_the_moment(
    wanted: list[tuple[int, int]], probe: int
) -> None:
    """Whatever is added in whatever order: no two shifts overlap, a refused one overlapped,
    and the shift the planner takes contains the moment (or starts within the look-ahead)."""
    profile = courier()
    for start, length in wanted:
        shift = Shift(FIXED_NOW + start * HOUR, FIXED_NOW + (start + length) * HOUR)
        try:
            profile = with_shift(profile, shift, now=FIXED_NOW)
        except ShiftOverlapError as exc:
            assert exc.shift.overlaps(shift)
    shifts = profile.shifts
    assert all(a.end <= b.start for a, b in itertools.pairwise(shifts))
    at = FIXED_NOW + probe * HOUR
    around = profile.shift_around(at)
    if around is not None:
        assert around.start <= at + SHIFT_LOOKAHEAD and at < around.end
    else:
        assert not any(s.start <= at + SHIFT_LOOKAHEAD and at < s.end for s in shifts)


def test_registering_again_keeps_other_days_and_the_state() -> None:
    tomorrow = Shift(FIXED_NOW + 20 * HOUR, FIXED_NOW + 28 * HOUR)
    before = courier(extra_shifts=(tomorrow,), active=False, deactivated_at=FIXED_NOW)
    again = registered(courier(capacity=5), before)
    assert again.capacity == 5 and again.extra_shifts == (tomorrow,) and not again.active
    # a registered shift moved onto tomorrow's takes its place
    moved = courier(shift_start=tomorrow.start, shift_end=tomorrow.end + HOUR)
    assert registered(moved, before).extra_shifts == ()
