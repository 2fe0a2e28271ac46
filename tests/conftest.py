"""Shared fixtures: a real redis-server for the session, the app, its client and a fixed clock."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from geo.catalogue import load_catalogue
from geo.stores import Store
from web import create_app
from web.catalogue_store import save_catalogue
from web.redis_server import start_local_redis, stop_local_redis
from web.settings import PROJECT_ROOT, Settings

DEMO_CATALOGUE = PROJECT_ROOT / "data" / "demo_stores.geojson"
DEMO_PRODUCTS = PROJECT_ROOT / "data" / "demo_products.csv"
DEMO_STOCK = PROJECT_ROOT / "data" / "demo_stock.csv"
# A Sunday, 03:00 in Taipei: convenience stores open, supermarkets closed.
FIXED_NOW = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server started for this test session, on a free port."""
    url = start_local_redis(tmp_path_factory.mktemp("redis"), _free_port(), persistent=False)
    yield url
    stop_local_redis(url)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def demo_stores() -> list[Store]:
    return load_catalogue(DEMO_CATALOGUE)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url, var_dir=tmp_path / "var", catalogue_poll_s=0.0, plan_time_limit_s=0.5
    )


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis, demo_stores: list[Store]) -> Flask:
    """The app over the demo catalogue, with the clock fixed at FIXED_NOW."""
    save_catalogue(redis_client, demo_stores, source="demo")
    return create_app(settings, clock=lambda: FIXED_NOW)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def shop(app: Flask, redis_client: redis.Redis) -> FlaskClient:
    """The demo with its products and stock loaded: ready to take orders."""
    runner = app.test_cli_runner()
    for args in (
        ["products", "import", str(DEMO_PRODUCTS)],
        ["stock", "import", str(DEMO_STOCK)],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    return app.test_client()
