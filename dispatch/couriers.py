"""Couriers: a registered courier's profile and shifts, and the rules on them (pure).

Stored by :mod:`dispatch.storage.couriers`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from geo.travel import VEHICLE_SPEEDS_MPS

SHIFT_LOOKAHEAD = timedelta(minutes=30)  # a courier starting this soon is planned already
MAX_SHIFT = timedelta(hours=16)  # a shift added for another day; longer is a typing slip
SHIFT_HORIZON = timedelta(days=14)  # how far ahead shifts may be added
MAX_SHIFTS = 30  # shifts a courier may have ahead, besides the registered one
KEEP_PAST_SHIFTS = timedelta(days=7)  # shifts ended longer ago are dropped when shifts change


@dataclass(frozen=True, slots=True)
class Shift:
    """A stretch of work; its id is its start in UTC (``20261122T0100Z``), unique per courier
    since a courier's shifts never overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            msg = "a shift must end after it starts"
            raise ValueError(msg)

    @property
    def id(self) -> str:
        return self.start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")

    def overlaps(self, other: Shift) -> bool:
        return self.start < other.end and other.start < self.end

    def to_record(self) -> dict[str, str]:
        return {"id": self.id, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True, slots=True)
class CourierProfile:
    """A registered courier: vehicle, capacity, shift and where the shift starts; shifts added
    for other days; whether it is active (a deactivated courier is kept for history and never
    planned)."""

    id: str
    name: str
    vehicle: str
    capacity: int
    shift_start: datetime
    shift_end: datetime
    home_lat: float
    home_lng: float
    extra_shifts: tuple[Shift, ...] = ()  # other days' shifts, never overlapping any other
    active: bool = True
    deactivated_at: datetime | None = None
    deactivation_reason: str = ""

    def __post_init__(self) -> None:
        if self.vehicle not in VEHICLE_SPEEDS_MPS:
            msg = f"vehicle must be one of {', '.join(VEHICLE_SPEEDS_MPS)}"
            raise ValueError(msg)
        if not 1 <= self.capacity <= 20:
            msg = "capacity must be 1 to 20 orders"
            raise ValueError(msg)
        if self.shift_end <= self.shift_start:
            msg = "shift_end must be after shift_start"
            raise ValueError(msg)
        shifts = self.shifts
        if any(a.overlaps(b) for a, b in itertools.pairwise(shifts)):
            msg = "a courier's shifts must not overlap"
            raise ValueError(msg)

    @property
    def shifts(self) -> tuple[Shift, ...]:
        """Every shift, the registered one too, in time order."""
        registered = Shift(self.shift_start, self.shift_end)
        return tuple(sorted((registered, *self.extra_shifts), key=lambda s: s.start))

    def shift_around(self, now: datetime, *, carrying: bool = False) -> Shift | None:
        """The shift the planner takes this courier in now: the one in progress or starting
        within ``SHIFT_LOOKAHEAD``; with goods on board, else the last one begun (overtime)."""
        soon = now + SHIFT_LOOKAHEAD
        for shift in self.shifts:
            if shift.start <= soon and now < shift.end:
                return shift
        begun = [shift for shift in self.shifts if shift.start <= soon]
        return begun[-1] if carrying and begun else None

    def to_record(self) -> dict[str, Any]:
        deactivated = None if self.deactivated_at is None else self.deactivated_at.isoformat()
        return {
            "id": self.id, "name": self.name, "vehicle": self.vehicle, "capacity": self.capacity,
            "shift_start": self.shift_start.isoformat(), "shift_end": self.shift_end.isoformat(),
            "home": {"lat": self.home_lat, "lng": self.home_lng},
            "shifts": [shift.to_record() for shift in self.shifts],
            "active": self.active, "deactivated_at": deactivated,
            "deactivation_reason": self.deactivation_reason,
        }  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CourierProfile:
        start, end = record["shift_start"], record["shift_end"]
        extra = tuple(
            Shift(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
            for s in record.get("shifts", ())
            if (s["start"], s["end"]) != (start, end)
        )
        deactivated = record.get("deactivated_at")
        return cls(
            record["id"], record["name"], record["vehicle"], record["capacity"],
            datetime.fromisoformat(start), datetime.fromisoformat(end),
            record["home"]["lat"], record["home"]["lng"],
            extra_shifts=extra, active=record.get("active", True),
            deactivated_at=None if deactivated is None else datetime.fromisoformat(deactivated),
            deactivation_reason=record.get("deactivation_reason", ""),
        )  # fmt: skip


def registered(courier: CourierProfile, previous: CourierProfile | None) -> CourierProfile:
    """A courier registered again keeps what registration does not set: whether it is active
    and its other days' shifts (those the new registered shift overlaps give way to it)."""
    if previous is None:
        return courier
    shift = Shift(courier.shift_start, courier.shift_end)
    kept = tuple(s for s in previous.shifts if not s.overlaps(shift)
                 and (s.start, s.end) != (previous.shift_start, previous.shift_end))  # fmt: skip
    return replace(courier, extra_shifts=kept, active=previous.active,
                   deactivated_at=previous.deactivated_at,
                   deactivation_reason=previous.deactivation_reason)  # fmt: skip


class ShiftOverlapError(ValueError):
    def __init__(self, shift: Shift) -> None:
        super().__init__(f"overlaps shift {shift.id} ({shift.start.isoformat()} to "
                         f"{shift.end.isoformat()})")  # fmt: skip
        self.shift = shift


def with_shift(courier: CourierProfile, shift: Shift, *, now: datetime) -> CourierProfile:
    """The courier with one more shift; shifts that ended a week ago are dropped. Raises
    :class:`ShiftOverlapError` for a shift overlapping one it has."""
    clash = next((s for s in courier.shifts if s.overlaps(shift)), None)
    if clash is not None:
        raise ShiftOverlapError(clash)
    kept = tuple(s for s in courier.extra_shifts if s.end > now - KEEP_PAST_SHIFTS)
    return replace(courier, extra_shifts=(*kept, shift))


def is_planned(courier: CourierProfile, *, now: datetime, carrying: bool) -> bool:
    """Whether the planner takes this courier now: active, and in a shift or starting one
    within ``SHIFT_LOOKAHEAD``, or past its shift with goods still on board."""
    return courier.active and courier.shift_around(now, carrying=carrying) is not None
