"""Opening hours: the supported OSM subset, evaluated in the store's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from geo.errors import OpeningHoursError
from geo.hours import parse_opening_hours

TAIPEI = ZoneInfo("Asia/Taipei")


def at(text: str) -> datetime:
    """A Taipei wall-clock time; 2026-11-16 is a Monday."""
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("spec", "moment", "expected"),
    [
        ("24/7", "2026-11-16T03:00", True),
        ("Mo-Fr 07:00-23:00; Sa,Su 08:00-22:00", "2026-11-16T06:59", False),
        ("Mo-Fr 07:00-23:00; Sa,Su 08:00-22:00", "2026-11-16T07:00", True),
        ("Mo-Fr 07:00-23:00; Sa,Su 08:00-22:00", "2026-11-16T23:00", False),
        ("Mo-Fr 07:00-23:00; Sa,Su 08:00-22:00", "2026-11-21T07:30", False),
        ("Mo-Fr 07:00-23:00; Sa,Su 08:00-22:00", "2026-11-22T21:59", True),
        ("Mo-Su 22:00-02:00", "2026-11-17T01:30", True),  # Monday's night, into Tuesday
        ("Mo-Su 22:00-02:00", "2026-11-17T02:00", False),
        ("Su 22:00-02:00", "2026-11-16T01:00", True),  # Sunday night runs into Monday
        ("Mo-Su 08:00-12:00,13:00-18:00", "2026-11-18T12:30", False),
        ("Mo-Su 08:00-12:00,13:00-18:00", "2026-11-18T13:00", True),
        ("Mo-Su 08:00-22:00; Su off", "2026-11-22T10:00", False),
        ("Mo-Su 08:00-22:00; We 10:00-12:00", "2026-11-18T09:00", False),
        ("Fr-Mo 10:00-20:00", "2026-11-16T11:00", True),
        ("Fr-Mo 10:00-20:00", "2026-11-18T11:00", False),
        ("Mo-Su 08:00-24:00", "2026-11-18T23:59", True),
        ("08:00-20:00", "2026-11-22T19:00", True),
    ],
)
def test_is_open(spec: str, moment: str, expected: bool) -> None:
    """Each rule form gives the expected answer at the edges."""
    assert parse_opening_hours(spec).is_open_at(at(moment), TAIPEI) is expected


def test_time_zone_is_the_stores() -> None:
    """The same instant is night in Taipei and afternoon in UTC."""
    hours = parse_opening_hours("Mo-Su 09:00-18:00")
    instant = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # 23:00 in Taipei
    assert not hours.is_open_at(instant, TAIPEI)
    assert hours.is_open_at(instant, ZoneInfo("UTC"))


def test_naive_moment_is_refused() -> None:
    """A moment without a zone is ambiguous."""
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_opening_hours("24/7").is_open_at(datetime(2026, 1, 1), TAIPEI)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "Mo-Fr",
        "PH off",
        "Jan-Mar 08:00-10:00",
        "Mo-Fr 7-23",
        "Mo-Fr 25:00-26:00",
        "Mo-Fr 08:60-09:00",
        "Xx 08:00-09:00",
        "Mo-Fr sunrise-sunset",
        "24:00-02:00",
    ],
)
def test_unsupported_forms_are_refused(spec: str) -> None:
    """Anything outside the subset is an error, never a guess."""
    with pytest.raises(OpeningHoursError):
        parse_opening_hours(spec)
