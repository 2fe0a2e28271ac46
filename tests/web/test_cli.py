"""Command-line imports: the demo fleet, and demo-city days planned on the street networks."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch.errors import ConfigError
from dispatch.road_extracts import travel_model
from dispatch.settings import PROJECT_ROOT, Settings
from dispatch.storage.couriers import load_couriers
from geo.catalogue import load_catalogue
from geo.roads import RoadNetworksTravel, RoadNetworkTravel
from tests.conftest import DEMO_CATALOGUE, DEMO_STOCK, FIXED_NOW, make_app
from tests.web.test_orders_api import order_body, place

DEMO_COURIERS = PROJECT_ROOT / "data" / "demo_couriers.csv"
EXTRACT = PROJECT_ROOT / "data" / "osm" / "taichung_xitun.osm.bz2"
ZHUBEI_EXTRACT = PROJECT_ROOT / "data" / "osm" / "zhubei.osm.bz2"
ZHUBEI_STORE = "osm-node-3303552612"  # a 7-Eleven in central Zhubei, 550 m from any courier
HEADER = "id,name,vehicle,capacity,lat,lng,shift_start,shift_end,timezone\n"
# a dozen doors around Xitun, Taichung, inside the street extract
DOORS = [
    (24.1800, 120.5930), (24.1880, 120.5940), (24.1850, 120.6100), (24.1820, 120.6070),
    (24.1870, 120.6000), (24.1810, 120.6010), (24.1860, 120.6120), (24.1840, 120.5960),
    (24.1795, 120.6050), (24.1885, 120.6080), (24.1830, 120.5990), (24.1865, 120.5975),
]  # fmt: skip


def test_demo_couriers_are_on_shift_today(app: Flask, redis_client: redis.Redis) -> None:
    result = app.test_cli_runner().invoke(args=["couriers", "import", str(DEMO_COURIERS)])
    assert result.exit_code == 0, result.output
    couriers = load_couriers(redis_client)
    assert len(couriers) == DEMO_COURIERS.read_text().count("\n") - 1
    assert all(c.shift_start <= FIXED_NOW < c.shift_end for c in couriers)
    # importing again updates, it does not duplicate
    app.test_cli_runner().invoke(args=["couriers", "import", str(DEMO_COURIERS)])
    assert len(load_couriers(redis_client)) == len(couriers)


@pytest.mark.parametrize(
    "row",
    [
        "x1,A,rocket,2,24.18,120.60,08:00,20:00,Asia/Taipei",
        "x1,A,walk,2,24.18,120.60,08:00,25:00,Asia/Taipei",
        "x1,A,walk,2,24.18,120.60,20:00,08:00,Asia/Taipei",
        "x1,A,walk,2,94.18,120.60,08:00,20:00,Asia/Taipei",
        "x1,A,walk,2,24.18,120.60,08:00,20:00,Mars/Olympus",
        "x1,A,walk,two,24.18,120.60,08:00,20:00,Asia/Taipei",
        "../x1,A,walk,2,24.18,120.60,08:00,20:00,Asia/Taipei",  # ids as the API takes them
    ],
)
def test_a_bad_courier_row_imports_nothing(
    app: Flask, redis_client: redis.Redis, tmp_path: Path, row: str
) -> None:
    good = "ok1,B,walk,1,24.18,120.60,08:00,20:00,Asia/Taipei\n"
    path = tmp_path / "couriers.csv"
    path.write_text(HEADER + good + row + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["couriers", "import", str(path)])
    assert result.exit_code != 0
    assert "row 2" in result.output
    assert load_couriers(redis_client) == []


@pytest.fixture
def street_shop(settings: Settings, shop: FlaskClient, redis_client: redis.Redis) -> FlaskClient:
    """The demo shop with the demo fleet, its travel times from both cities' street networks."""
    app = make_app(replace(settings, road_extracts=(EXTRACT, ZHUBEI_EXTRACT)), redis_client)
    assert isinstance(app.extensions["travel"], RoadNetworksTravel)
    result = app.test_cli_runner().invoke(args=["couriers", "import", str(DEMO_COURIERS)])
    assert result.exit_code == 0, result.output
    return app.test_client()


def test_a_dozen_orders_are_planned_on_time_on_the_streets(street_shop: FlaskClient) -> None:
    for i, (lat, lng) in enumerate(DOORS):
        response = place(street_shop, order_body(f"S-{i}", lat=lat, lng=lng))
        assert response.status_code == 201, response.get_json()
    plan = street_shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    assert plan["unassigned"] == {} and plan["late_orders"] == {}
    planned = {s["order_id"] for r in plan["routes"] for s in r["stops"]}
    assert len(planned) == len(DOORS)


def test_an_order_next_to_a_zhubei_store_rides_zhubei_streets(
    street_shop: FlaskClient, tmp_path: Path
) -> None:
    """Half a metre from a Zhubei store: taken there; a Zhubei courier rides Zhubei's streets."""
    store = next(s for s in load_catalogue(DEMO_CATALOGUE) if s.id == ZHUBEI_STORE)
    with DEMO_STOCK.open(encoding="utf-8") as handle:
        sku = next(r["sku"] for r in csv.DictReader(handle)
                   if r["store_id"] == store.id and int(r["qty"]) > 0)  # fmt: skip
    body = order_body("ZB-1", lat=store.lat + 0.5 / 111_320, lng=store.lng,
                      address="Zhubei", items=[{"sku": sku, "qty": 1}])  # fmt: skip
    response = place(street_shop, body)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()["order"]
    assert order["store_id"] == store.id
    plan = street_shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    assert plan["unassigned"] == {}
    (route,) = [r for r in plan["routes"] if any(s["order_id"] == order["id"] for s in r["stops"])]
    assert route["courier_id"].startswith("zb-")
    with DEMO_COURIERS.open(encoding="utf-8") as handle:
        courier = next(r for r in csv.DictReader(handle) if r["id"] == route["courier_id"])
    home, vehicle = (float(courier["lat"]), float(courier["lng"])), courier["vehicle"]
    # the planned ride to the store and the leg's map are Zhubei's streets, not straight lines
    zhubei = RoadNetworkTravel.from_osm(ZHUBEI_EXTRACT, cache_dir=tmp_path)
    ride = zhubei.matrix_seconds([home, (store.lat, store.lng)], vehicle=vehicle)[0][1]
    arrive = datetime.fromisoformat(route["stops"][0]["arrive_at"])
    assert (arrive - datetime.fromisoformat(plan["planned_at"])).total_seconds() == ride
    assert 0 < ride < 900  # minutes from a courier in town, not hours from a far network
    answer = street_shop.get("/api/v1/courier/legs", query_string={"courier_id": courier["id"]})
    legs = answer.get_json()["legs"]
    street = zhubei.path(home, (store.lat, store.lng), vehicle=vehicle)
    assert len(street) > 2 and legs[0]["route"] == [list(p) for p in street]


def test_road_extract_lists_one_extract_per_city(tmp_path: Path) -> None:
    """ROAD_EXTRACT takes comma-separated extracts; one that does not exist stops the start."""
    settings = Settings.from_env({"ROAD_EXTRACT": f"{EXTRACT}, {ZHUBEI_EXTRACT},"})
    assert settings.road_extracts == (EXTRACT, ZHUBEI_EXTRACT)
    assert Settings.from_env({"ROAD_EXTRACT": ""}).road_extracts == ()
    missing = replace(settings, road_extracts=(EXTRACT, tmp_path / "nowhere.osm.bz2"),
                      var_dir=tmp_path)  # fmt: skip
    with pytest.raises(ConfigError, match=r"nowhere\.osm\.bz2 does not exist"):
        travel_model(missing)
