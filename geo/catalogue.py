"""Reading and validating store catalogues (GeoJSON, CSV with lat/lng columns, GeoParquet).

A catalogue loads whole or not at all: every bad row is reported (row, field, reason) and a file
with any bad row yields no stores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import CatalogueError, OpeningHoursError, RowProblem
from geo.hours import parse_opening_hours
from geo.stores import (
    DEFAULT_CAPACITY_PER_HOUR,
    DEFAULT_DELIVERY_RADIUS_M,
    DEFAULT_PREP_TIME_S,
    DEFAULT_TIMEZONE,
    MAX_ID_LENGTH,
    STORE_KINDS,
    Store,
    is_known_timezone,
)
from geo.zones import ZoneError, zone_from_geojson

SUPPORTED_SUFFIXES = (".geojson", ".json", ".csv", ".parquet", ".geoparquet")
LAT_COLUMNS = ("lat", "latitude")
LNG_COLUMNS = ("lng", "lon", "longitude")
MAX_PROBLEMS_REPORTED = 1000
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}

Progress = Callable[[int], None]


def read_catalogue_frame(path: Path) -> pd.DataFrame:
    """Read a catalogue file into a frame with ``lat``/``lng`` columns in WGS84.

    GeoJSON and GeoParquet geometries are reprojected to EPSG:4326 when the file names another
    CRS; a row whose geometry is missing or not a point gets NaN coordinates (and is then refused
    by validation, with its row number).
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        msg = f"unsupported catalogue format {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        raise CatalogueError(msg)
    if not path.is_file():
        msg = f"no such file: {path}"
        raise CatalogueError(msg)
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            return _csv_coordinates(frame)
        geo_frame = gpd.read_parquet(path) if "parquet" in suffix else gpd.read_file(path)
    except CatalogueError:
        raise
    except Exception as exc:  # a reader's own errors are many and undocumented
        msg = f"cannot read {path.name}: {exc}"
        raise CatalogueError(msg) from exc
    return _geometry_coordinates(geo_frame)


def _csv_coordinates(frame: pd.DataFrame) -> pd.DataFrame:
    lat_col = next((c for c in LAT_COLUMNS if c in frame.columns), None)
    lng_col = next((c for c in LNG_COLUMNS if c in frame.columns), None)
    if lat_col is None or lng_col is None:
        msg = "a CSV catalogue needs lat and lng (or lon) columns"
        raise CatalogueError(msg)
    return frame.rename(columns={lat_col: "lat", lng_col: "lng"})


def _geometry_coordinates(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    geometry = frame.geometry
    is_point = (geometry.geom_type == "Point") & ~geometry.is_empty & geometry.notna()
    points = geometry.where(is_point, None)
    plain = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    plain["lat"] = points.y.where(is_point)
    plain["lng"] = points.x.where(is_point)
    return plain


def stores_from_frame(frame: pd.DataFrame, *, progress: Progress | None = None) -> list[Store]:
    """Validate every row; return the stores or raise :class:`CatalogueError` with all problems."""
    records = frame.to_dict(orient="records")
    problems: list[RowProblem] = []
    stores: list[Store] = []
    first_row_of: dict[str, int] = {}
    for row_number, record in enumerate(records, start=1):
        store, row_problems = _store_from_record(row_number, record)
        if store is not None:
            seen = first_row_of.setdefault(store.id, row_number)
            if seen != row_number:
                row_problems.append(
                    RowProblem(row_number, "id", f"duplicate id {store.id!r} (first at row {seen})")
                )
            else:
                stores.append(store)
        problems.extend(row_problems)
        if progress is not None and row_number % 10_000 == 0:
            progress(10_000)
    if progress is not None:
        progress(len(records) % 10_000)
    if problems:
        msg = f"{len(problems)} problem(s) in the catalogue; nothing was loaded"
        raise CatalogueError(msg, problems[:MAX_PROBLEMS_REPORTED])
    if not stores:
        msg = "the catalogue has no stores"
        raise CatalogueError(msg)
    return stores


def load_catalogue(path: Path, *, progress: Progress | None = None) -> list[Store]:
    """Read and validate a catalogue file."""
    return stores_from_frame(read_catalogue_frame(path), progress=progress)


def _store_from_record(row: int, record: dict[Any, Any]) -> tuple[Store | None, list[RowProblem]]:
    problems: list[RowProblem] = []

    def bad(field: str, reason: str) -> None:
        problems.append(RowProblem(row, field, reason))

    store_id = _text(record.get("id"))
    if not store_id:
        bad("id", "missing")
    elif len(store_id) > MAX_ID_LENGTH:
        bad("id", f"longer than {MAX_ID_LENGTH} characters")
    name = _text(record.get("name"))
    if not name:
        bad("name", "missing")
    kind = _text(record.get("kind"))
    if kind not in STORE_KINDS:
        bad("kind", f"{kind!r} is not one of {', '.join(STORE_KINDS)}")
    partner = _boolean(record.get("partner"), default=False)
    if partner is None:
        bad("partner", f"{record.get('partner')!r} is not true or false")
    lat = _number(record.get("lat"))
    if lat is None or not -90.0 <= lat <= 90.0:
        bad("lat", "missing, not a number or outside [-90, 90] (is the geometry a point?)")
    lng = _number(record.get("lng"))
    if lng is None or not -180.0 <= lng <= 180.0:
        bad("lng", "missing, not a number or outside [-180, 180] (is the geometry a point?)")
    hours_text = _text(record.get("opening_hours")) or None
    if hours_text is not None:
        try:
            parse_opening_hours(hours_text)
        except OpeningHoursError as exc:
            bad("opening_hours", str(exc))
    timezone = _text(record.get("timezone")) or DEFAULT_TIMEZONE
    if not is_known_timezone(timezone):
        bad("timezone", f"unknown time zone {timezone!r}")
    numbers = {
        "prep_time_s": _number(record.get("prep_time_s"), default=DEFAULT_PREP_TIME_S),
        "capacity_per_hour": _number(
            record.get("capacity_per_hour"), default=DEFAULT_CAPACITY_PER_HOUR
        ),
        "delivery_radius_m": _number(
            record.get("delivery_radius_m"), default=DEFAULT_DELIVERY_RADIUS_M
        ),
    }
    for field, value in numbers.items():
        if value is None:
            bad(field, "not a number")
    zone = _zone(record.get("delivery_zone"), lat, lng, bad)
    if problems:
        return None, problems
    try:
        store = Store(
            id=store_id,
            name=name,
            brand=_text(record.get("brand")),
            kind=kind,
            partner=bool(partner),
            lat=float(lat),  # type: ignore[arg-type]
            lng=float(lng),  # type: ignore[arg-type]
            address=_text(record.get("address")),
            opening_hours=hours_text,
            timezone=timezone,
            prep_time_s=int(numbers["prep_time_s"]),  # type: ignore[arg-type]
            capacity_per_hour=int(numbers["capacity_per_hour"]),  # type: ignore[arg-type]
            delivery_radius_m=float(numbers["delivery_radius_m"]),  # type: ignore[arg-type]
            delivery_zone=zone,
        )
    except ValueError as exc:  # the remaining range checks (prep time, capacity, radius)
        reason = str(exc)
        field = reason.split(" ", 1)[0]
        return None, [RowProblem(row, field if field in record else "row", reason)]
    return store, []


def _zone(
    value: Any, lat: float | None, lng: float | None, bad: Callable[[str, str], None]
) -> str | None:
    """A row's delivery zone as canonical GeoJSON text, None when it has none (then its radius
    applies); a bad zone is reported as the row's ``delivery_zone`` problem."""
    if isinstance(value, str):
        value = value.strip() or None
    elif value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        value = None  # a row without a zone in a file where other rows have one
    if value is None:
        return None
    if lat is None or lng is None:
        return None  # the position is reported already; the zone is checked against it
    try:
        return zone_from_geojson(value, store_lat=lat, store_lng=lng)
    except ZoneError as exc:
        bad("delivery_zone", str(exc))
        return None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(value: Any, *, default: float | None = None) -> float | None:
    text = _text(value)
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _boolean(value: Any, *, default: bool) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def frame_from_stores(stores: Iterable[Store]) -> pd.DataFrame:
    """Return the stores as a plain frame in the catalogue schema (the inverse of validation)."""
    return pd.DataFrame([store.to_record() for store in stores])
