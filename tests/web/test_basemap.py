"""The base map's street layer: public, light, cached, and strict about its one parameter."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch.settings import PROJECT_ROOT, Settings
from tests.conftest import make_app

EXTRACTS = (
    PROJECT_ROOT / "data" / "osm" / "taichung_xitun.osm.bz2",
    PROJECT_ROOT / "data" / "osm" / "zhubei.osm.bz2",
)
ANONYMOUS = {"Authorization": ""}


@pytest.fixture
def mapped(settings: Settings, redis_client: redis.Redis, app: Flask) -> FlaskClient:
    return make_app(replace(settings, road_extracts=EXTRACTS), redis_client).test_client()


def test_both_cities_streets_without_a_token(mapped: FlaskClient) -> None:
    """GeoJSON lines of Taichung and Zhubei, with the OSM attribution, for anyone."""
    response = mapped.get("/api/v1/map/streets", headers=ANONYMOUS)
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert "© OpenStreetMap contributors" in body["attribution"]
    lats = [lat for f in body["features"] for _, lat in f["geometry"]["coordinates"]]
    assert min(lats) < 24.2 and max(lats) > 24.8  # Taichung and Zhubei
    assert all(f["geometry"]["type"] == "LineString" for f in body["features"])
    assert {f["properties"]["class"] for f in body["features"]} == {"major", "minor", "service"}
    coordinates = [c for f in body["features"] for p in f["geometry"]["coordinates"] for c in p]
    assert all(round(c, 5) == c for c in coordinates)
    assert len(response.data) < 400_000  # light enough to load with the page


def test_the_map_is_cached_by_etag(mapped: FlaskClient) -> None:
    """A browser that has the streets gets a 304 without the body."""
    first = mapped.get("/api/v1/map/streets", headers=ANONYMOUS)
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    again = mapped.get(
        "/api/v1/map/streets", headers=ANONYMOUS | {"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.data == b""


def test_a_bbox_keeps_one_city(mapped: FlaskClient) -> None:
    """A box around Taichung leaves Zhubei out."""
    body = mapped.get("/api/v1/map/streets?bbox=120.58,24.17,120.62,24.20").get_json()
    lats = [lat for f in body["features"] for _, lat in f["geometry"]["coordinates"]]
    assert lats and max(lats) < 24.3


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=10,0,5,1",
        "bbox=0,0,1,nan",
        "bbox=0,95,1,96",
        "bbox=1_20.5,24,120.7,24.3",
        "bbox=%D9%A1%D9%A2%D9%A0,24,120.7,24.3",
    ],  # ASCII decimals only
)
def test_a_bad_bbox_is_a_400_naming_it(mapped: FlaskClient, query: str) -> None:
    """Each malformed box is refused with the parameter named."""
    response = mapped.get(f"/api/v1/map/streets?{query}")
    assert response.status_code == 400
    assert "bbox" in response.get_json()["error"]["details"]["fields"]


def test_an_unknown_parameter_is_refused(mapped: FlaskClient) -> None:
    """The same strictness as every other route."""
    response = mapped.get("/api/v1/map/streets?zoom=3")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_parameter"


def test_without_extracts_the_map_is_empty(client: FlaskClient) -> None:
    """No ROAD_EXTRACT: no streets, still a valid answer."""
    body = client.get("/api/v1/map/streets").get_json()
    assert body["features"] == []
