"""Reading request bodies and query parameters strictly: every problem is reported by field name.

This module reads a body's text as JSON (:func:`json_object`); what the JSON must hold is each
body's model in :mod:`web.bodies`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import current_app, request
from werkzeug.datastructures import MultiDict

from web.errors import ApiError, invalid_parameters

# Ids that become Redis keys, path segments and log fields (couriers, token subjects, stores
# named in a body): letters and digits, then also . _ : - (never a slash, space or leading dot).
SAFE_ID = "^[A-Za-z0-9][A-Za-z0-9._:-]*$"  # as the OpenAPI document states it
_SAFE_ID = re.compile(SAFE_ID)


def is_safe_id(value: Any, *, max_length: int) -> bool:
    """True for a string id of at most ``max_length`` characters matching :data:`SAFE_ID`."""
    return isinstance(value, str) and len(value) <= max_length and bool(_SAFE_ID.fullmatch(value))


V = TypeVar("V", bound=Callable[..., Any])
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WHOLE = re.compile(r"[+-]?\d+", re.ASCII)
_NOT_FINITE = {"nan", "inf", "infinity"}  # read, to be refused as "must be finite"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


SHOWN_NAME_LEN = 64  # a name echoed back in an error is cut to this (never a whole 8 KB key)
MAX_DEPTH = 16  # objects and arrays within each other; no request body needs more
# Text no field may hold: lone UTF-16 surrogates (they cannot be stored or sent as UTF-8) and
# control characters other than tab, line feed and carriage return (NUL and the like in an
# address or a name are never meant, and break the logs and the systems downstream).
_FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class _BadNumber:
    """A number JSON allows but no field can hold: NaN, Infinity, or past a double's range."""

    text: str


def _float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)  # 1e400 reads as infinity


def _int(text: str) -> int | _BadNumber:
    if len(text) > 320:  # past any double (and past what int() reads)
        return _BadNumber(text)
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return _BadNumber(text)
    return value


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object; a name given twice is kept as a marker (JSON leaves its meaning open)."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        found[name] = _Repeated() if name in found else value
    return found


class _Repeated:
    """Where a member name appeared twice in one object."""


def parse_json_body(data: bytes) -> Any:
    """A request body as JSON, refusing what no field may hold, each problem named by its path
    (``items[0].sku``): a 400 ``malformed_json`` for what is not JSON, ``invalid_parameter``
    for lone surrogates, control characters, NaN and infinite or overflowing numbers, names
    given twice, and nesting past :data:`MAX_DEPTH`."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            parse_float=_float,
            parse_int=_int,
            parse_constant=_BadNumber,
            object_pairs_hook=_no_repeats,
        )
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed_json", "the body must be UTF-8 encoded JSON") from exc
    except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from exc
    problems: dict[str, str] = {}
    _check_value(value, "body", 0, problems)
    if problems:
        raise invalid_parameters(problems)
    return value


def _check_value(value: Any, path: str, depth: int, problems: dict[str, str]) -> None:
    if len(problems) >= 20:  # enough to fix the body; a huge bad one is not walked to the end
        return
    if isinstance(value, _BadNumber):
        problems[path] = "must be a finite number within a double's range (no NaN or Infinity)"
    elif isinstance(value, _Repeated):
        problems[path] = "given more than once in the same object"
    elif isinstance(value, str):
        if _FORBIDDEN_TEXT.search(value):
            problems[path] = "holds a control character or a lone surrogate"
    elif isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            problems[path] = f"nested more than {MAX_DEPTH} levels deep"
            return
        members = value.items() if isinstance(value, dict) else enumerate(value)
        for key, member in members:
            if isinstance(key, int):
                _check_value(member, f"{path}[{key}]", depth + 1, problems)
            elif _FORBIDDEN_TEXT.search(key):  # named escaped: the answer must be valid UTF-8
                problems[_member(path, ascii(key))] = (
                    "a name with a control character or a lone surrogate"
                )
            else:
                _check_value(member, _member(path, key), depth + 1, problems)


def _member(path: str, name: str) -> str:
    return name if path == "body" else f"{path}.{name}"


def json_object(*, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object: a 413 past ``max_bytes``, a 400 for anything else
    (see :func:`parse_json_body`). The one reader of every request body."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "body_too_large", f"the body may be at most {max_bytes} bytes")
    if not request.is_json:
        raise ApiError(400, "malformed_json", "the body must be a JSON object",
                       {"content_type": "application/json"})  # fmt: skip
    data = request.get_data(cache=True)
    if len(data) > max_bytes:  # a chunked body has no Content-Length to check first
        raise ApiError(413, "body_too_large", f"the body may be at most {max_bytes} bytes")
    body = parse_json_body(data)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return body


# The moments the service takes (shifts, fixes, figures, opening checks): far enough either way
# for any real use, and near enough that no arithmetic on them (a day before, the time in
# Taipei) runs off the calendar (year 1 or 9999 did: a 500).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MOMENT_RULE = "an ISO 8601 date and time with a zone (Z or +08:00), from 2000 to 2100"


def parse_moment(value: Any, *, naive_is_utc: bool = False) -> datetime | None:
    """An ISO 8601 moment with a zone (without one: UTC if ``naive_is_utc``, else refused)
    between :data:`EARLIEST` and :data:`LATEST`; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        if not naive_is_utc:
            return None
        moment = moment.replace(tzinfo=UTC)
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00 is before the calendar starts
        return None
    return moment if EARLIEST <= in_utc < LATEST else None


def echoed(values: Collection[str], *, most: int = 10) -> str:
    """Bad values named back to the client, each cut to 40 characters and at most ``most`` of
    them: an error repeats what was wrong, not a whole 8 KB query."""
    shown = [value[:40] for value in list(values)[:most]]
    return ", ".join(shown) + (f" (and {len(values) - most} more)" if len(values) > most else "")


def takes_query(*names: str) -> Callable[[V], V]:
    """Declare the query parameters a route reads; any other is refused before the route runs
    (:func:`refuse_unknown_query`). A route with no declaration takes none."""

    def declare(view: V) -> V:
        view.query_params = frozenset(names)  # type: ignore[attr-defined]
        return view

    return declare


def query_params_of(view: Any) -> frozenset[str]:
    """The query parameters ``view`` declared with :func:`takes_query` (none by default)."""
    return getattr(view, "query_params", frozenset())


def checks_its_own_token(view: V) -> V:
    """Mark a route that checks its caller's token itself (not with :func:`web.auth.allow`);
    it calls ``refuse_unknown_query(checked_by_auth=False)`` once the caller is known."""
    view.checks_token = True  # type: ignore[attr-defined]
    return view


def _checks_token(view: Any) -> bool:
    return bool(getattr(view, "checks_token", False))


def refuse_unknown_query(*, checked_by_auth: bool = True) -> None:
    """A 400 ``unknown_parameter`` naming each query parameter the route does not declare, so a
    misspelt ``radius=`` is never ignored, on any route; and a control character in a value.

    Registered before every request; a route that needs a token is checked right after its
    token is (by :func:`web.auth.allow`), so a caller without one gets its 401 first.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:  # no route matched: the 404 or 405 follows
        return
    if checked_by_auth and (getattr(view, "allowed_roles", None) or _checks_token(view)):
        return
    allowed = query_params_of(view)
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        names = [name[:SHOWN_NAME_LEN] for name in unknown[:20]]
        raise ApiError(
            400,
            "unknown_parameter",
            f"unknown query parameter(s): {', '.join(names)}",
            {"unknown": names, "allowed": sorted(allowed)},
        )
    bad = sorted({name for name, value in request.args.items(multi=True)
                  if _FORBIDDEN_TEXT.search(value)})  # fmt: skip
    if bad:  # %00 and the like: never part of a value, as in bodies
        raise invalid_parameters(dict.fromkeys(bad, "holds a control character"))


class QueryReader:
    """Collects problems while reading ``request.args``; :meth:`finish` raises them all at once.
    (Which parameters a route takes at all is its :func:`takes_query` declaration.)"""

    def __init__(self, args: MultiDict[str, str]) -> None:
        self._args = args
        self.problems: dict[str, str] = {}

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
        # float() also reads "2_4.1" and other scripts' digits: a parameter is ASCII decimal
        if not _DECIMAL.fullmatch(raw) and raw.lower().lstrip("+-") not in _NOT_FINITE:
            self.problems[name] = f"{raw[:40]!r} is not a number"
            return default
        value = float(raw)
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
        if not _WHOLE.fullmatch(raw) or len(raw) > 18:
            self.problems[name] = f"{raw[:40]!r} is not a whole number"
            return default
        value = int(raw)
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
            self.problems[name] = f"unknown value(s): {echoed(unknown)}"
            return None
        return frozenset(values)

    def moment(self, name: str) -> datetime | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            return None
        value = parse_moment(raw, naive_is_utc=True)
        if value is None:
            rule = MOMENT_RULE.replace("with a zone (Z or +08:00)", "(Z or +08:00; UTC if none)")
            # an unescaped "+08:00" in a URL arrives as " 08:00": say so, it is the usual slip
            hint = "; a '+' in a URL is read as a space: write it %2B" if " " in raw else ""
            self.problems[name] = f"must be {rule}{hint}"
        return value

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
        parts = [part.strip() for part in raw.split(",")]
        # ASCII decimals, as every query number: float() also reads "1_20.5" and "١٢٠"
        if len(parts) != 4 or not all(_DECIMAL.fullmatch(p) or p.lower() in _NOT_FINITE
                                      for p in parts):  # fmt: skip
            self.problems[name] = "must be four numbers: west,south,east,north"
            return None
        west, south, east, north = (float(part) for part in parts)
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            self.problems[name] = "must be finite numbers"
        elif not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            self.problems[name] = "must be west <= east within ±180 and south <= north within ±90"
        else:
            return west, south, east, north
        return None

    def point(self, name: str) -> tuple[float, float] | None:
        """``lat,lng`` in degrees (JSON's order, as the lat and lng parameters)."""
        raw = self._raw(name)
        if raw is None or raw == "":
            return None
        parts = [part.strip() for part in raw.split(",")]
        if len(parts) != 2 or not all(_DECIMAL.fullmatch(p) for p in parts):
            self.problems[name] = "must be two numbers: lat,lng"
            return None
        lat, lng = (float(part) for part in parts)
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            self.problems[name] = "must be lat within ±90 and lng within ±180"
            return None
        return lat, lng

    def finish(self) -> None:
        if self.problems:
            raise invalid_parameters(self.problems)
