"""Command-line imports: the demo fleet, and a demo-city day planned on the street network."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch import fleet
from geo.roads import RoadNetworkTravel
from tests.conftest import FIXED_NOW, make_app
from tests.web.test_orders_api import order_body, place
from web.settings import PROJECT_ROOT, Settings

DEMO_COURIERS = PROJECT_ROOT / "data" / "demo_couriers.csv"
EXTRACT = PROJECT_ROOT / "data" / "osm" / "taichung_xitun.osm.bz2"
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
    couriers = fleet.load_couriers(redis_client)
    assert len(couriers) == DEMO_COURIERS.read_text().count("\n") - 1
    assert all(c.shift_start <= FIXED_NOW < c.shift_end for c in couriers)
    # importing again updates, it does not duplicate
    app.test_cli_runner().invoke(args=["couriers", "import", str(DEMO_COURIERS)])
    assert len(fleet.load_couriers(redis_client)) == len(couriers)


@pytest.mark.parametrize(
    "row",
    [
        "x1,A,rocket,2,24.18,120.60,08:00,20:00,Asia/Taipei",
        "x1,A,walk,2,24.18,120.60,08:00,25:00,Asia/Taipei",
        "x1,A,walk,2,24.18,120.60,20:00,08:00,Asia/Taipei",
        "x1,A,walk,2,94.18,120.60,08:00,20:00,Asia/Taipei",
        "x1,A,walk,2,24.18,120.60,08:00,20:00,Mars/Olympus",
        "x1,A,walk,two,24.18,120.60,08:00,20:00,Asia/Taipei",
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
    assert fleet.load_couriers(redis_client) == []


@pytest.fixture
def street_shop(settings: Settings, shop: FlaskClient, redis_client: redis.Redis) -> FlaskClient:
    """The demo shop with the demo fleet, its travel times from the Taichung street network."""
    app = make_app(replace(settings, road_extract=EXTRACT), redis_client)
    assert isinstance(app.extensions["travel"], RoadNetworkTravel)
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
