"""Scheduled orders: a ``deliver_at`` moment becomes a delivery window, the time the goods must
be ready, when the store starts preparing them and the hour slot they take (pure).

An order for "now" is promised within the hour (:data:`dispatch.orders.PROMISE`); one for later
today or tomorrow is promised a window of :data:`WINDOW` either side of ``deliver_at``. The
store prepares it to be ready one ride before the window opens, not when it is placed, and it
takes one of the store's orders per hour in the local hour ``deliver_at`` falls in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WINDOW = timedelta(minutes=15)  # either side of deliver_at
MIN_LEAD = timedelta(minutes=60)  # anything sooner is an ordinary order for "now"
MAX_DAYS_AHEAD = 1  # today or tomorrow, in the store's own calendar
# The planner takes a scheduled order this long before its preparation starts: early enough to
# give it a courier, late enough that tomorrow's orders do not crowd tonight's plans.
PLANNING_LEAD = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a scheduled order is delivered, made ready and started at its store."""

    deliver_at: datetime
    window_from: datetime
    window_to: datetime  # the promise (``promised_by``)
    ready_by: datetime  # one ride before the window opens
    prepare_from: datetime  # ready_by less the store's preparation time

    def to_record(self) -> dict[str, Any]:
        """The fields a scheduled order's record carries (ISO 8601)."""
        return {
            "deliver_at": self.deliver_at.isoformat(),
            "delivery_window": {
                "from": self.window_from.isoformat(),
                "to": self.window_to.isoformat(),
            },
            "ready_by": self.ready_by.isoformat(),
            "prepare_from": self.prepare_from.isoformat(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Schedule:
        """The schedule a record's fields of :meth:`to_record` describe."""
        window = record["delivery_window"]
        return cls(*(datetime.fromisoformat(text) for text in (
            record["deliver_at"], window["from"], window["to"], record["ready_by"],
            record["prepare_from"],
        )))  # fmt: skip


def schedule_for(
    deliver_at: datetime, *, prep_time_s: float, ride_s: float, pickup: bool = False
) -> Schedule:
    """The schedule of an order for ``deliver_at`` from a store ``ride_s`` from the door; a
    pick-up's ``deliver_at`` is its pick-up time, the goods ready at the counter when the
    window opens (no ride)."""
    window_from = deliver_at - WINDOW
    ready_by = window_from - timedelta(seconds=0 if pickup else round(ride_s))
    return Schedule(
        deliver_at,
        window_from,
        deliver_at + WINDOW,
        ready_by,
        ready_by - timedelta(seconds=prep_time_s),
    )


def hour_slot(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The store's local clock hour ``moment`` falls in, as [start, end) moments."""
    local = moment.astimezone(zone)
    start = local.replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def lead_problem(deliver_at: datetime, now: datetime) -> str | None:
    """Why ``deliver_at`` cannot be booked at ``now`` regardless of the store (None: it can,
    as far as that goes; the store's calendar decides the last day)."""
    if deliver_at < now + MIN_LEAD:
        return (
            f"must be at least {MIN_LEAD.total_seconds() / 60:.0f} minutes ahead (sooner is an "
            "ordinary order within the hour: leave deliver_at out)"
        )
    if deliver_at > now + timedelta(days=MAX_DAYS_AHEAD + 1):
        return "must be later today or tomorrow"
    return None


def is_today_or_tomorrow(deliver_at: datetime, now: datetime, zone: ZoneInfo) -> bool:
    """Whether ``deliver_at`` is on the store's today or tomorrow, in its own calendar."""
    days = (deliver_at.astimezone(zone).date() - now.astimezone(zone).date()).days
    return 0 <= days <= MAX_DAYS_AHEAD


def due_for_planning(record: dict[str, Any], now: datetime) -> bool:
    """Whether the planner should take this open order now: every order for "now", and a
    scheduled one from :data:`PLANNING_LEAD` before its preparation starts (or once the store
    has begun it)."""
    prepare_from = record.get("prepare_from")
    if prepare_from is None or record.get("status") != "accepted":
        return True
    return datetime.fromisoformat(prepare_from) - PLANNING_LEAD <= now
