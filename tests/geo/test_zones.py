"""Delivery zones: checked on load (row and field named), and a point test that is exact."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.catalogue import load_catalogue
from geo.distance import haversine_m
from geo.errors import CatalogueError
from geo.index import NearbyQuery, StoreIndex
from geo.stores import Store
from geo.zones import MAX_ZONE_VERTICES, ZoneError, zone_from_geojson

LAT, LNG = 24.1853, 120.6076
BASE = Store(id="z", name="Z", brand="B", kind="convenience", partner=True, lat=LAT, lng=LNG)


def rectangle(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


BOX = rectangle(LNG - 0.004, LAT - 0.002, LNG + 0.004, LAT + 0.002)
BOW_TIE = {"type": "Polygon", "coordinates": [[
    [LNG, LAT], [LNG + 0.01, LAT + 0.01], [LNG + 0.01, LAT], [LNG, LAT + 0.01], [LNG, LAT],
]]}  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "reason"),
    [
        (BOW_TIE, "Self-intersection"),
        ({"type": "LineString", "coordinates": [[LNG, LAT], [LNG + 0.01, LAT]]}, "is not one of"),
        ({"type": "Point", "coordinates": [LNG, LAT]}, "is not one of"),
        (rectangle(LNG, LAT, LNG + 0.01, 91.0), "latitude 91.0 outside"),
        (rectangle(LNG, LAT, 181.0, LAT + 0.01), "longitude 181.0 outside"),
        ({"type": "Polygon", "coordinates": [[[LNG, LAT], [LNG + 0.01, LAT], [LNG, LAT]]]},
         "at least 4 positions"),
        ({"type": "Polygon", "coordinates": [[[LNG, LAT], [LNG + 0.01, LAT],
                                              [LNG + 0.01, LAT + 0.01], [LNG, LAT + 0.02]]]},
         "end where it starts"),
        ({"type": "Polygon", "coordinates": [[[LNG, "x"]]]}, "is not [lng, lat]"),
        ({"type": "Polygon", "coordinates": []}, "non-empty"),
        ("{not json", "not JSON"),
        (rectangle(LNG - 0.2, LAT - 0.2, LNG + 0.2, LAT + 0.2), "reaches"),
        # a hole outside its shell
        ({"type": "Polygon", "coordinates": [BOX["coordinates"][0],
                                             rectangle(LNG + 0.01, LAT, LNG + 0.02, LAT + 0.01)
                                             ["coordinates"][0]]}, "not a valid polygon"),
    ],
)  # fmt: skip
def test_bad_zones_are_refused_with_the_reason(zone: Any, reason: str) -> None:
    """Self-intersecting, wrong type, out of range, unclosed, too far: each says why."""
    with pytest.raises(ZoneError, match=reason.replace("[", r"\[").replace(".", r"\.")):
        zone_from_geojson(zone, store_lat=LAT, store_lng=LNG)


def test_too_many_vertices_are_refused() -> None:
    """A zone beyond the vertex cap is an untrimmed export, refused before shapely sees it."""
    steps = MAX_ZONE_VERTICES + 1
    ring = [[LNG + 0.01 * (i / steps), LAT + 0.001 * ((i % 2) + 1)] for i in range(steps)]
    ring = [[LNG, LAT], *ring, [LNG + 0.01, LAT], [LNG, LAT]]
    with pytest.raises(ZoneError, match=f"more than {MAX_ZONE_VERTICES} vertices"):
        zone_from_geojson({"type": "Polygon", "coordinates": [ring]}, store_lat=LAT, store_lng=LNG)


def test_a_zone_is_kept_as_canonical_text_and_survives_a_record_round_trip() -> None:
    """Mapping or text in, the same compact GeoJSON out; a record makes the same store."""
    text = zone_from_geojson(BOX, store_lat=LAT, store_lng=LNG)
    assert text == zone_from_geojson(json.dumps(BOX, indent=2), store_lat=LAT, store_lng=LNG)
    store = replace(BASE, delivery_zone=text)
    again = Store.from_record(store.to_record())
    assert again == store and again.zone_area is not None
    checked = Store.from_checked_record(store.to_record())
    assert checked.delivers_to(LAT, LNG) and not checked.delivers_to(LAT + 0.01, LNG)
    with pytest.raises(ValueError, match=r"delivery_zone: .*Self-intersection"):
        replace(BASE, delivery_zone=json.dumps(BOW_TIE))


@settings(max_examples=200, deadline=None)
@given(
    half_w=st.floats(0.0005, 0.02), half_h=st.floats(0.0005, 0.02),
    dx=st.floats(-0.05, 0.05), dy=st.floats(-0.05, 0.05),
)  # fmt: skip
def test_a_point_is_covered_exactly_when_it_is_in_the_zone(
    half_w: float, half_h: float, dx: float, dy: float
) -> None:
    """Inside the rectangle (or on its edge): delivered to; outside: never, whatever the radius."""
    west, east, south, north = LNG - half_w, LNG + half_w, LAT - half_h, LAT + half_h
    store = replace(BASE, delivery_radius_m=50_000.0,
                    delivery_zone=json.dumps(rectangle(west, south, east, north)))  # fmt: skip
    lat, lng = LAT + dy, LNG + dx
    inside = west <= lng <= east and south <= lat <= north
    assert store.delivers_to(lat, lng) is inside
    corner = replace(store, delivery_radius_m=1.0)  # the radius plays no part
    assert corner.delivers_to(north, east) and corner.delivers_to(south, LNG)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(-0.01, 0.01), st.floats(-0.01, 0.01),
                              st.booleans()), min_size=1, max_size=25),
    at=st.tuples(st.floats(-0.01, 0.01), st.floats(-0.01, 0.01)),
    limit=st.integers(1, 10),
)  # fmt: skip
def test_nearby_delivers_to_matches_a_brute_force_scan(
    points: list[tuple[float, float, bool]], at: tuple[float, float], limit: int
) -> None:
    """The index's delivers_to filter gives the stores a full scan of Store.delivers_to gives."""
    stores = [
        replace(BASE, id=f"s{i:02d}", lat=LAT + dy, lng=LNG + dx, delivery_radius_m=700.0,
                delivery_zone=json.dumps(rectangle(LNG + dx - 0.003, LAT + dy - 0.001,
                                                   LNG + dx + 0.002, LAT + dy + 0.004))
                if zoned else None)
        for i, (dx, dy, zoned) in enumerate(points)
    ]  # fmt: skip
    target = (LAT + at[1], LNG + at[0])
    query = NearbyQuery(LAT, LNG, 3000.0, limit, delivers_to=target)
    got = [(hit.store.id, hit.distance_m) for hit in StoreIndex(stores).nearby(query)]
    expected = sorted(
        (haversine_m(LAT, LNG, s.lat, s.lng), s.id)
        for s in stores
        if s.delivers_to(*target) and haversine_m(LAT, LNG, s.lat, s.lng) <= 3000.0
    )[:limit]
    assert got == [(store_id, metres) for metres, store_id in expected]


def _write_csv(path: Path, zones: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "kind", "partner", "lat", "lng", "delivery_zone"])
        for i, zone in enumerate(zones):
            writer.writerow([f"s{i}", f"S{i}", "convenience", "true", LAT, LNG, zone])
    return path


def test_a_csv_catalogue_names_the_row_of_each_bad_zone(tmp_path: Path) -> None:
    """Rows 2 and 3 have bad zones: both reported by row and field, nothing loaded."""
    good = json.dumps(BOX)
    path = _write_csv(tmp_path / "c.csv", [good, json.dumps(BOW_TIE), '{"type": "Point"}', ""])
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    problems = [(p.row, p.field) for p in caught.value.problems]
    assert problems == [(2, "delivery_zone"), (3, "delivery_zone")]
    assert "Self-intersection" in caught.value.problems[0].reason
    path = _write_csv(tmp_path / "ok.csv", [good, ""])
    first, second = load_catalogue(path)
    assert first.zone_area is not None and second.delivery_zone is None


def test_a_geojson_catalogue_reads_the_zone_from_the_properties(tmp_path: Path) -> None:
    """A feature's delivery_zone property (a GeoJSON object) is its zone; the point its place."""
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LNG, LAT]},
         "properties": {"id": f"s{i}", "name": "S", "kind": "convenience", **extra}}
        for i, extra in enumerate([{"delivery_zone": BOX}, {},
                                   {"delivery_zone": rectangle(LNG, LAT, LNG, 95.0)}])
    ]  # fmt: skip
    path = tmp_path / "c.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    ((row, field, reason),) = [(p.row, p.field, p.reason) for p in caught.value.problems]
    assert (row, field) == (3, "delivery_zone") and "latitude 95.0" in reason
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features[:2]}))
    zoned, plain = load_catalogue(path)
    assert zoned.delivers_to(LAT + 0.0019, LNG) and not zoned.delivers_to(LAT + 0.0021, LNG)
    assert plain.zone_area is None and plain.delivers_to(LAT + 0.0021, LNG)


def test_the_demo_catalogue_has_zoned_stores_that_cover_their_own_door() -> None:
    """Two demo stores carry a zone drawn along streets; each contains the store."""
    demo = Path(__file__).resolve().parents[2] / "data" / "demo_stores.geojson"
    zoned = [s for s in load_catalogue(demo) if s.delivery_zone is not None]
    assert {s.id for s in zoned} == {"osm-node-3559052343", "osm-node-3302499876"}
    assert all(s.delivers_to(s.lat, s.lng) for s in zoned)


def test_a_multipolygon_zone_covers_each_part_and_not_the_gap() -> None:
    """Two blocks either side of a street: both delivered to, the street between them not."""
    west = rectangle(LNG - 0.004, LAT - 0.002, LNG - 0.001, LAT + 0.002)["coordinates"]
    east = rectangle(LNG + 0.001, LAT - 0.002, LNG + 0.004, LAT + 0.002)["coordinates"]
    zone = json.dumps({"type": "MultiPolygon", "coordinates": [west, east]})
    store = replace(BASE, delivery_zone=zone)
    assert store.delivers_to(LAT, LNG - 0.002) and store.delivers_to(LAT, LNG + 0.002)
    assert not store.delivers_to(LAT, LNG)  # the gap (the store's own door, here)


def test_a_saved_index_keeps_the_zones(tmp_path: Path) -> None:
    """Stores made from a mapped index folder carry the same zone and answer the same."""
    zoned = replace(BASE, delivery_zone=json.dumps(BOX))
    plain = replace(BASE, id="p", lat=LAT + 0.001)
    StoreIndex([zoned, plain]).save(tmp_path / "index")
    loaded = StoreIndex.load(tmp_path / "index")
    again = loaded.get("z")
    assert again is not None and again.delivery_zone == zoned.delivery_zone
    query = NearbyQuery(LAT, LNG, 1000.0, 5, delivers_to=(LAT + 0.0025, LNG))
    assert [h.store.id for h in loaded.nearby(query)] == ["p"]
