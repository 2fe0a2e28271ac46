"""Scheduled orders: their window, ready and preparation times, hour slots and planning lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.planner import CourierState, OpenOrder, plan_dispatch
from dispatch.schedule import (
    MIN_LEAD,
    PLANNING_LEAD,
    WINDOW,
    due_for_planning,
    hour_slot,
    is_today_or_tomorrow,
    lead_problem,
    schedule_for,
)
from geo.travel import StraightLineTravel

NOW = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)  # Sunday 03:00 in Taipei
TAIPEI = ZoneInfo("Asia/Taipei")
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from([ZoneInfo(z) for z in ("Asia/Taipei", "Asia/Kolkata", "Europe/Berlin")])


@given(moments, st.integers(0, 3600), st.floats(0, 3600))
def test_the_schedule_runs_backwards_from_the_window(
    deliver_at: datetime, prep_s: int, ride_s: float
) -> None:
    """Window deliver_at ± 15 min; ready one ride before it opens, started a prep time before."""
    plan = schedule_for(deliver_at, prep_time_s=prep_s, ride_s=ride_s)
    assert plan.window_from == deliver_at - WINDOW and plan.window_to == deliver_at + WINDOW
    assert plan.prepare_from <= plan.ready_by <= plan.window_from < plan.window_to
    assert plan.ready_by + timedelta(seconds=round(ride_s)) == plan.window_from
    assert plan.ready_by - plan.prepare_from == timedelta(seconds=prep_s)
    record = plan.to_record()
    assert datetime.fromisoformat(record["delivery_window"]["to"]) == plan.window_to


@given(moments, zones)
def test_a_moment_falls_in_one_local_clock_hour(moment: datetime, zone: ZoneInfo) -> None:
    """The slot holds the moment, lasts an hour and starts on the hour of the store's clock."""
    start, end = hour_slot(moment, zone)
    assert start <= moment < end and end - start == timedelta(hours=1)
    local = start.astimezone(zone)
    assert (local.minute, local.second, local.microsecond) == (0, 0, 0)


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [(timedelta(minutes=-5), True), (timedelta(minutes=59), True), (MIN_LEAD, False),
     (timedelta(hours=30), False), (timedelta(days=2, minutes=1), True)],
)  # fmt: skip
def test_the_lead_is_at_least_an_hour_and_at_most_two_days(ahead: timedelta, refused: bool) -> None:
    """Sooner than an hour is an ordinary order; past two days is beyond any store's tomorrow."""
    assert (lead_problem(NOW + ahead, NOW) is not None) is refused


def test_tomorrow_ends_at_the_stores_midnight() -> None:
    """At 03:00 on a Sunday in Taipei, Monday 23:30 there is tomorrow, Tuesday 00:30 is not."""
    monday_late = datetime(2026, 11, 23, 23, 30, tzinfo=TAIPEI)
    tuesday_early = datetime(2026, 11, 24, 0, 30, tzinfo=TAIPEI)
    assert is_today_or_tomorrow(monday_late, NOW, TAIPEI)
    assert not is_today_or_tomorrow(tuesday_early, NOW, TAIPEI)
    assert lead_problem(tuesday_early, NOW) is None  # only the store's calendar refuses it


def test_a_scheduled_order_is_planned_from_shortly_before_its_preparation() -> None:
    """Orders for now are always planned; a scheduled one from PLANNING_LEAD before it is
    started, or as soon as the store has begun it."""
    prepare_from = NOW + timedelta(hours=3)
    record = {"status": "accepted", "prepare_from": prepare_from.isoformat()}
    assert not due_for_planning(record, NOW)
    assert not due_for_planning(record, prepare_from - PLANNING_LEAD - timedelta(seconds=1))
    assert due_for_planning(record, prepare_from - PLANNING_LEAD)
    assert due_for_planning(record | {"status": "preparing"}, NOW)
    assert due_for_planning({"status": "accepted", "prepare_from": None}, NOW)


def test_the_planner_delivers_a_scheduled_order_inside_its_window() -> None:
    """A courier free now, an order ready early: its drop-off waits for the window to open,
    and the order for now beside it still keeps its promise."""
    window_from = NOW + timedelta(minutes=50)
    order = OpenOrder(
        "o1", (24.185, 120.612), (24.190, 120.618), ready_at=NOW,
        promised_by=window_from + 2 * WINDOW, deliver_from=window_from,
    )  # fmt: skip
    asap = OpenOrder("o2", (24.185, 120.612), (24.180, 120.605), ready_at=NOW,
                     promised_by=NOW + timedelta(minutes=60))  # fmt: skip
    courier = CourierState("c1", (24.185, 120.612), "e-bike", 3, NOW + timedelta(hours=4))
    plan = plan_dispatch([order, asap], [courier], now=NOW, travel=StraightLineTravel(),
                         time_limit_s=0.5)  # fmt: skip
    drops = {s.order_id: s for r in plan.routes for s in r.stops if s.kind == "delivery"}
    assert window_from <= drops["o1"].start_at <= order.promised_by
    assert drops["o1"].late_s == 0 and drops["o2"].late_s == 0
    assert plan.on_time == 2 and not plan.unassigned
