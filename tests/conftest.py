"""Shared fixtures: a real redis-server for the session, the app, its client and a fixed clock."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch.order_store import StoreKeyspace
from dispatch.regions import ALL
from dispatch.settings import PROJECT_ROOT, Settings
from dispatch.storage.catalogue import save_catalogue
from dispatch.storage.server import start_local_redis, stop_local_redis
from dispatch.storage.tokens import issue_token
from geo.catalogue import load_catalogue
from geo.stores import Store
from web import create_app

DEMO_CATALOGUE = PROJECT_ROOT / "data" / "demo_stores.geojson"
DEMO_PRODUCTS = PROJECT_ROOT / "data" / "demo_products.csv"
DEMO_STOCK = PROJECT_ROOT / "data" / "demo_stock.csv"
# A Sunday, 03:00 in Taipei: convenience stores open, supermarkets closed.
FIXED_NOW = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)


def keyspace(store_id: str) -> StoreKeyspace:
    """A store's stock and orders in Redis, with the one dispatch region the tests default to."""
    return StoreKeyspace(store_id, ALL)


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
    """The app over the demo catalogue, with the clock fixed at FIXED_NOW.

    Its test clients carry an admin token unless a request sends its own Authorization.
    """
    save_catalogue(redis_client, demo_stores, source="demo")
    return make_app(settings, redis_client)


def make_app(
    settings: Settings, redis_client: redis.Redis, clock: Callable[[], datetime] = lambda: FIXED_NOW
) -> Flask:
    """An app whose test clients carry an admin token unless a request sends its own."""
    app = create_app(settings, clock=clock)
    app.test_client_class = AdminClient
    AdminClient.token = token_for(redis_client, "admin")
    return app


class AdminClient(FlaskClient):
    token = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"


def token_for(client: redis.Redis, role: str, subject: str | None = None) -> str:
    return issue_token(client, role, subject, at=FIXED_NOW)[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
