"""Liveness and readiness: what a load balancer and an orchestrator ask each worker."""

from __future__ import annotations

from pathlib import Path

import redis
from flask import Flask

from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage.catalogue import save_catalogue
from dispatch.storage.server import start_local_redis, stop_local_redis
from geo.stores import Store
from tests.conftest import _free_port, make_app

AWAY = "redis://127.0.0.1:1/0"  # nothing listens there


def test_not_ready_until_a_catalogue_is_indexed(
    settings: Settings, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """An empty Redis: alive but not ready, the catalogue named; once imported, the probe
    builds the index and the worker is ready."""
    app = make_app(settings, redis_client)
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok", "catalogue_version": None}
    waiting = client.get("/readyz")
    assert waiting.status_code == 503 and waiting.headers["Retry-After"] == "5"
    error = waiting.get_json()["error"]
    assert error["code"] == "not_ready" and error["details"]["failing"] == ["catalogue"]
    assert error["details"]["checks"]["redis"] == {"ok": True}
    assert "no catalogue" in error["details"]["checks"]["catalogue"]["message"]
    save_catalogue(redis_client, demo_stores, source="demo")
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    checks = ready.get_json()["checks"]
    assert checks["catalogue"]["ok"] and checks["catalogue"]["stores"] == len(demo_stores)
    assert checks["layout"] == {"ok": True} and checks["redis"] == {"ok": True}
    assert client.get("/healthz").get_json()["catalogue_version"] == checks["catalogue"]["version"]


def test_not_ready_while_redis_is_down(app: Flask, redis_client: redis.Redis) -> None:
    """Redis away after the index was built: alive, not ready (redis failing), the index kept;
    back: ready again."""
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    served = app.extensions["redis"]
    app.extensions["redis"] = redis.Redis.from_url(AWAY, socket_connect_timeout=0.2)
    down = client.get("/readyz")
    assert down.status_code == 503
    details = down.get_json()["error"]["details"]
    assert details["failing"] == ["redis"]
    assert "unreachable" in details["checks"]["redis"]["message"]
    assert details["checks"]["catalogue"]["ok"]  # the index in memory still answers searches
    assert client.get("/healthz").status_code == 200
    app.extensions["redis"] = served
    assert client.get("/readyz").status_code == 200


def test_a_worker_started_without_redis_checks_the_layout_once_it_is_back(
    redis_client: redis.Redis, demo_stores: list[Store], tmp_path: Path
) -> None:
    """Started while its Redis was not up: not ready (redis, catalogue, layout); once Redis
    answers, the probe checks the key layout, builds the index and says ready."""
    port = _free_port()
    late = Settings(redis_url=f"redis://127.0.0.1:{port}/0", var_dir=tmp_path / "var",
                    catalogue_poll_s=0.0)  # fmt: skip
    app = make_app(late, redis_client)
    client = app.test_client()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.get_json()["error"]["details"]["failing"] == ["redis", "catalogue", "layout"]
    url = start_local_redis(tmp_path / "redis", port, persistent=False)
    try:
        save_catalogue(redis.Redis.from_url(url), demo_stores, source="demo")
        assert client.get("/readyz").status_code == 200
        assert redis.Redis.from_url(url).get(order_keys.LAYOUT_KEY) == b"2:all"
    finally:
        stop_local_redis(url)
