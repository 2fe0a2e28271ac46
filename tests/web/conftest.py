"""Web fixtures shared by the dispatch, courier and role tests."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect, sync_playwright
from werkzeug.serving import make_server

from dispatch.settings import PROJECT_ROOT, Settings
from tests.conftest import FIXED_NOW, make_app
from tests.web.test_orders_api import order_body, place

SPOTS = [
    (24.1800, 120.5930), (24.1880, 120.5940), (24.1850, 120.6100), (24.1820, 120.6070),
    (24.1870, 120.6000), (24.1810, 120.6010), (24.1860, 120.6120), (24.1840, 120.5960),
]  # fmt: skip


def courier_body(courier_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "id": courier_id, "name": f"Courier {courier_id}", "vehicle": "e-bike", "capacity": 3,
        "shift_start": (FIXED_NOW - timedelta(hours=1)).isoformat(),
        "shift_end": (FIXED_NOW + timedelta(hours=4)).isoformat(),
        "home": {"lat": 24.184, "lng": 120.602},
    }  # fmt: skip
    return body | changes


@pytest.fixture
def day(shop: FlaskClient) -> tuple[FlaskClient, list[str]]:
    """Three couriers on shift and eight orders around Taichung."""
    for k in range(3):
        assert shop.post("/api/v1/couriers", json=courier_body(f"c{k}")).status_code == 201
    ids = []
    for i, (lat, lng) in enumerate(SPOTS):
        response = place(shop, order_body(f"D-{i}", lat=lat, lng=lng))
        assert response.status_code == 201
        ids.append(response.get_json()["order"]["id"])
    return shop, ids


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# How long a page may take to show what a test expects: generous, because a loaded 2-core
# machine (CI beside other jobs) can take several seconds to lay out 2,000 markers.
expect.set_options(timeout=20_000)
# flags that keep Chromium from reaching for the network this machine does not have
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


EXTRACTS = (
    PROJECT_ROOT / "data" / "osm" / "taichung_xitun.osm.bz2",
    PROJECT_ROOT / "data" / "osm" / "zhubei.osm.bz2",
)


def serve(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def street_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One var directory for every street app, so the networks are built once per session."""
    return tmp_path_factory.mktemp("street-var")


@pytest.fixture
def street_app(
    settings: Settings, redis_client: redis.Redis, app: Flask, street_var: Path
) -> Flask:
    """The app over the same Redis with both demo cities' streets: road travel and a base map."""
    streets = replace(settings, road_extracts=EXTRACTS, var_dir=street_var,
                      secret_key=app.config["SECRET_KEY"])  # the same tracking links  # fmt: skip
    return make_app(streets, redis_client)


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test app on a real port, for the browser."""
    yield from serve(app)


@pytest.fixture
def street_served(street_app: Flask) -> Iterator[str]:
    yield from serve(street_app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert os.path.exists(CHROMIUM), "Chromium is needed (scripts/test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()
