"""Reading query parameters strictly: every problem is collected and reported by field name."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict

from web.errors import ApiError, invalid_parameters

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def json_object(*, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object: a 413 past ``max_bytes``, a 400 for anything else."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "body_too_large", f"the body may be at most {max_bytes} bytes")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return body


def json_number(value: Any, *, low: float, high: float) -> float | None:
    """A JSON number (not a boolean) that is finite and within [low, high], else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if low <= value <= high else None


class QueryReader:
    """Collects problems while reading ``request.args``; :meth:`finish` raises them all at once."""

    def __init__(self, args: MultiDict[str, str], *, allowed: Collection[str]) -> None:
        self._args = args
        self.problems: dict[str, str] = {}
        unknown = sorted(set(args) - set(allowed))
        if unknown:
            raise ApiError(
                400,
                "unknown_parameter",
                f"unknown query parameter(s): {', '.join(unknown)}",
                {"unknown": unknown, "allowed": sorted(allowed)},
            )

    def _raw(self, name: str) -> str | None:
        values = self._args.getlist(name)
        if len(values) > 1:
            self.problems[name] = "given more than once"
            return None
        return values[0].strip() if values else None

    def number(
        self, name: str, *, default: float | None = None, low: float, high: float
    ) -> float | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            if default is None and name not in self.problems:
                self.problems[name] = "required"
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems[name] = f"{raw!r} is not a number"
            return default
        if not math.isfinite(value):
            self.problems[name] = "must be a finite number"
        elif not low <= value <= high:
            self.problems[name] = f"must be between {low:g} and {high:g}"
        else:
            return value
        return default

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        raw = self._raw(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems[name] = f"{raw!r} is not a whole number"
            return default
        if not low <= value <= high:
            self.problems[name] = f"must be between {low} and {high}"
            return default
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            return None
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self.problems[name] = "must be true or false"
        return None

    def values(self, name: str, *, max_items: int) -> list[str]:
        """A repeatable or comma-separated parameter, as its distinct values in order."""
        found = [
            part.strip()
            for raw in self._args.getlist(name)
            for part in raw.split(",")
            if part.strip()
        ]
        distinct = list(dict.fromkeys(found))
        if len(distinct) > max_items:
            self.problems[name] = f"at most {max_items} values"
            return []
        return distinct

    def choices(self, name: str, *, allowed: Collection[str]) -> frozenset[str] | None:
        """A repeatable or comma-separated parameter whose values must all be in ``allowed``."""
        values = [value.casefold() for value in self.values(name, max_items=len(allowed) + 1)]
        if not values:
            return None
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            self.problems[name] = f"unknown value(s): {', '.join(unknown)}"
            return None
        return frozenset(values)

    def moment(self, name: str) -> datetime | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            self.problems[name] = "must be an ISO 8601 date and time"
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def text(self, name: str, *, max_length: int = 256) -> str | None:
        raw = self._raw(name)
        if raw is not None and len(raw) > max_length:
            self.problems[name] = f"longer than {max_length} characters"
            return None
        return raw or None

    def bbox(self, name: str) -> tuple[float, float, float, float] | None:
        """``west,south,east,north`` in degrees (GeoJSON's order), west before east."""
        raw = self._raw(name)
        if raw is None or raw == "":
            return None
        try:
            west, south, east, north = (float(part) for part in raw.split(","))
        except ValueError:
            self.problems[name] = "must be four numbers: west,south,east,north"
            return None
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            self.problems[name] = "must be finite numbers"
        elif not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            self.problems[name] = "must be west <= east within ±180 and south <= north within ±90"
        else:
            return west, south, east, north
        return None

    def finish(self) -> None:
        if self.problems:
            raise invalid_parameters(self.problems)
