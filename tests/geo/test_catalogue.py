"""Catalogue files: formats, reprojection, and whole-file refusal with every bad row named."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point

from geo.catalogue import frame_from_stores, load_catalogue
from geo.errors import CatalogueError
from geo.stores import Store
from tests.conftest import DEMO_CATALOGUE

HEADER = "id,name,brand,kind,partner,lat,lng,opening_hours,timezone\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_catalogue_loads() -> None:
    """The shipped demo has the Taichung and Zhubei OSM stores, typed and validated."""
    stores = load_catalogue(DEMO_CATALOGUE)
    assert len(stores) == 46  # 47 in OSM, one of them mapped twice
    assert {s.kind for s in stores} == {"convenience", "supermarket"}
    fulin = next(s for s in stores if s.id == "osm-way-617553270")
    assert fulin.brand == "7-Eleven"
    assert fulin.timezone == "Asia/Taipei"
    assert (round(fulin.lat, 6), round(fulin.lng, 6)) == (24.18518, 120.612619)


def test_csv_with_lat_lng_columns(tmp_path: Path) -> None:
    """A CSV with lat/lng (or lon) columns loads, with defaults for the optional fields."""
    path = write(
        tmp_path / "s.csv",
        "id,name,brand,kind,partner,lat,lon\na,Shop A,X,convenience,yes,24.1,120.6\n"
        "b,Shop B,,supermarket,0,24.2,120.7\n",
    )
    stores = load_catalogue(path)
    assert [s.id for s in stores] == ["a", "b"]
    assert stores[0].partner is True and stores[1].partner is False
    assert stores[1].lng == 120.7
    assert stores[0].opening_hours is None and stores[0].prep_time_s == 300


def test_geoparquet_round_trip(tmp_path: Path) -> None:
    """GeoParquet written from stores reads back as the same stores."""
    stores = load_catalogue(DEMO_CATALOGUE)[:5]
    frame = frame_from_stores(stores)
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lng"]),
        geometry=gpd.points_from_xy(frame["lng"], frame["lat"]),
        crs="EPSG:4326",
    )
    geo.to_parquet(tmp_path / "s.parquet")
    assert load_catalogue(tmp_path / "s.parquet") == stores


def test_projected_crs_is_reprojected(tmp_path: Path) -> None:
    """A file in Web Mercator comes back in WGS84 degrees."""
    geo = gpd.GeoDataFrame(
        {"id": ["a"], "name": ["A"], "brand": ["B"], "kind": ["convenience"], "partner": [True]},
        geometry=[Point(120.6, 24.18)],
        crs="EPSG:4326",
    ).to_crs("EPSG:3857")
    geo.to_file(tmp_path / "s.geojson", driver="GeoJSON")
    (store,) = load_catalogue(tmp_path / "s.geojson")
    assert store.lat == pytest.approx(24.18, abs=1e-9)
    assert store.lng == pytest.approx(120.6, abs=1e-9)


def test_every_bad_row_is_reported_and_nothing_loads(tmp_path: Path) -> None:
    """Each problem names its row and field; one bad row refuses the file."""
    path = write(
        tmp_path / "bad.csv",
        HEADER
        + "a,Good,X,convenience,true,24.1,120.6,24/7,Asia/Taipei\n"
        + ",No id,X,convenience,true,24.1,120.6,,\n"
        + "c,Bad kind,X,bakery,true,24.1,120.6,,\n"
        + "d,Bad lat,X,convenience,true,95,120.6,,\n"
        + "e,Bad hours,X,convenience,maybe,24.1,abc,sometimes,\n"
        + "a,Duplicate,X,convenience,true,24.1,120.6,,\n"
        + "g,Bad zone,X,convenience,true,24.1,120.6,,Mars/Olympus\n",
    )
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    found = {(p.row, p.field) for p in caught.value.problems}
    assert found == {
        (2, "id"),
        (3, "kind"),
        (4, "lat"),
        (5, "partner"),
        (5, "lng"),
        (5, "opening_hours"),
        (6, "id"),
        (7, "timezone"),
    }
    assert "nothing was loaded" in str(caught.value)


def test_non_point_geometry_is_refused(tmp_path: Path) -> None:
    """A line is not a store location."""
    geo = gpd.GeoDataFrame(
        {"id": ["a"], "name": ["A"], "brand": ["B"], "kind": ["convenience"]},
        geometry=[LineString([(120.6, 24.1), (120.7, 24.2)])],
        crs="EPSG:4326",
    )
    geo.to_file(tmp_path / "line.geojson", driver="GeoJSON")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path / "line.geojson")
    assert {p.field for p in caught.value.problems} == {"lat", "lng"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("s.txt", "x", "unsupported catalogue format"),
        ("s.csv", "id,name\na,b\n", "lat and lng"),
        ("s.geojson", "{not json", "cannot read"),
        ("s.csv", HEADER, "no stores"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    """Wrong format, missing columns, broken JSON and empty files are clear errors."""
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(write(tmp_path / name, content))


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is named."""
    with pytest.raises(CatalogueError, match="no such file"):
        load_catalogue(tmp_path / "nope.geojson")


def test_store_record_round_trip() -> None:
    """to_record/from_record are inverses (what Redis stores)."""
    store = load_catalogue(DEMO_CATALOGUE)[0]
    assert Store.from_record(json.loads(json.dumps(store.to_record()))) == store
