"""Opening hours in the common subset of the OpenStreetMap ``opening_hours`` syntax.

Supported: ``24/7``; rules separated by ``;`` made of an optional weekday selector (``Mo-Fr``,
``Sa,Su``, ``Fr-Mo``) and comma-separated time ranges (``07:00-23:00``, ``08:00-12:00,13:00-18:00``)
or ``off``/``closed``. A range whose end is not after its start runs past midnight into the next
day. As in OSM, a later rule replaces earlier ones for the days it names. Anything else (public
holidays, months, week numbers, sunrise) is refused with :class:`OpeningHoursError` rather than
guessed at.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from geo.errors import OpeningHoursError

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

_TIME_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Weekly open intervals in local minutes since Monday 00:00; an end may pass the week's end."""

    spec: str
    intervals: tuple[tuple[int, int], ...]

    @property
    def always_open(self) -> bool:
        return self.intervals == ((0, MINUTES_PER_WEEK),)

    def is_open_at(self, moment: datetime, timezone: ZoneInfo) -> bool:
        """Tell whether the store is open at an aware ``moment``, read in the store's zone."""
        if moment.tzinfo is None:
            msg = "moment must be timezone-aware"
            raise ValueError(msg)
        local = moment.astimezone(timezone)
        minute = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
        for start, end in self.intervals:
            if start <= minute < end or start <= minute + MINUTES_PER_WEEK < end:
                return True
        return False


@functools.lru_cache(maxsize=4096)  # catalogues repeat a few hour strings very many times
def parse_opening_hours(spec: str) -> OpeningHours:
    """Parse an ``opening_hours`` string; raise :class:`OpeningHoursError` naming what is wrong."""
    text = spec.strip()
    if not text:
        msg = "opening_hours is empty"
        raise OpeningHoursError(msg)
    if text == "24/7":
        return OpeningHours(spec=text, intervals=((0, MINUTES_PER_WEEK),))
    per_day: dict[int, list[tuple[int, int]]] = {}
    for raw_rule in text.split(";"):
        rule = raw_rule.strip()
        if not rule:
            continue
        days, ranges = _parse_rule(rule)
        for day in days:
            per_day[day] = ranges
    intervals = sorted(
        (day * MINUTES_PER_DAY + start, day * MINUTES_PER_DAY + end)
        for day, ranges in per_day.items()
        for start, end in ranges
    )
    return OpeningHours(spec=text, intervals=tuple(intervals))


def _parse_rule(rule: str) -> tuple[list[int], list[tuple[int, int]]]:
    parts = rule.split(None, 1)
    if parts[0][:2] in DAYS:
        days = _parse_days(parts[0])
        times = parts[1].strip() if len(parts) > 1 else ""
    else:
        days = list(range(7))
        times = rule
    if times in ("off", "closed"):
        return days, []
    if not times:
        msg = f"rule {rule!r} names days but no times"
        raise OpeningHoursError(msg)
    return days, [_parse_time_range(t.strip(), rule) for t in times.split(",")]


def _parse_days(selector: str) -> list[int]:
    days: list[int] = []
    for item in selector.split(","):
        ends = item.split("-")
        if len(ends) > 2 or any(end not in DAYS for end in ends):
            msg = f"unsupported weekday selector {selector!r}"
            raise OpeningHoursError(msg)
        first = DAYS.index(ends[0])
        last = DAYS.index(ends[-1])
        span = (last - first) % 7
        days.extend((first + i) % 7 for i in range(span + 1))
    return days


def _parse_time_range(text: str, rule: str) -> tuple[int, int]:
    match = _TIME_RANGE.match(text)
    if match is None:
        msg = f"unsupported time range {text!r} in rule {rule!r}"
        raise OpeningHoursError(msg)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        msg = f"time out of range in {text!r}"
        raise OpeningHoursError(msg)
    start = h1 * 60 + m1
    end = h2 * 60 + m2
    if start >= MINUTES_PER_DAY:
        msg = f"a range cannot start at 24:00 ({text!r})"
        raise OpeningHoursError(msg)
    if end <= start:
        end += MINUTES_PER_DAY  # past midnight, into the next day
    return start, end
