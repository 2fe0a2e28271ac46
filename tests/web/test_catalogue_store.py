"""The catalogue in Redis: versions, re-imports seen by every worker, the import command."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dispatch.settings import Settings
from dispatch.storage.catalogue import current_version, read_catalogue, save_catalogue
from geo.distance import haversine_m
from geo.stores import Store
from tests.conftest import DEMO_CATALOGUE, FIXED_NOW
from tests.geo.test_index import make_stores
from web import create_app


def test_save_and_read_round_trip(redis_client: redis.Redis, demo_stores: list[Store]) -> None:
    """What is saved is what is read, under a new version each time; old versions are pruned."""
    first = save_catalogue(redis_client, demo_stores, source="demo")
    second = save_catalogue(redis_client, demo_stores[:3], source="small")
    third = save_catalogue(redis_client, demo_stores[:5], source="five")
    assert first.version < second.version < third.version
    assert current_version(redis_client) == third
    assert read_catalogue(redis_client, third.version) == demo_stores[:5]
    assert read_catalogue(redis_client, second.version) == demo_stores[:3]  # kept for readers
    assert not redis_client.exists(f"catalogue:v{first.version}:meta")


def test_reimport_is_seen_by_every_worker(settings: Settings, redis_client: redis.Redis) -> None:
    """Two app instances (two workers) both switch to a new catalogue without a restart."""
    stores = make_stores((24.18, 120.60), 0.01, 50, seed=1)
    save_catalogue(redis_client, stores, source="first")
    workers = [create_app(settings, clock=lambda: FIXED_NOW) for _ in range(2)]
    clients = [w.test_client() for w in workers]
    for client in clients:
        assert client.get("/readyz").get_json()["checks"]["catalogue"]["stores"] == 50
    save_catalogue(redis_client, stores[:7], source="second")
    for client in clients:
        assert client.get("/readyz").get_json()["checks"]["catalogue"]["stores"] == 7
        assert client.get(f"/api/v1/stores/{stores[10].id}").status_code == 404


def test_import_command(app: Flask, redis_client: redis.Redis, tmp_path: Path) -> None:
    """The CLI imports a file, refuses a bad one without touching the current catalogue."""
    runner = app.test_cli_runner()
    before = current_version(redis_client)
    assert before is not None
    result = runner.invoke(args=["stores", "import", str(DEMO_CATALOGUE), "--if-empty"])
    assert result.exit_code == 0 and "already loaded" in result.output
    assert current_version(redis_client) == before

    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,kind,lat,lng\na,A,convenience,24.1,120.6\nb,B,bakery,99,1\n")
    result = runner.invoke(args=["stores", "import", str(bad)])
    assert result.exit_code != 0
    assert "row 2: kind" in result.output and "row 2: lat" in result.output
    assert current_version(redis_client) == before

    good = tmp_path / "good.csv"
    good.write_text("id,name,kind,lat,lng\na,A,convenience,24.1,120.6\n")
    result = runner.invoke(args=["stores", "import", str(good)])
    assert result.exit_code == 0, result.output
    after = current_version(redis_client)
    assert after is not None and after.count == 1 and after.version > before.version
    status = runner.invoke(args=["stores", "status"])
    assert "1 stores from good.csv" in status.output


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32),
    spread=st.sampled_from([0.002, 0.02, 0.2]),
    radius=st.sampled_from([100, 1000, 3000, 50_000]),
    limit=st.integers(1, 200),
)
def test_api_answers_equal_brute_force_through_redis(
    settings: Settings, redis_client: redis.Redis, seed: int, spread: float, radius: int, limit: int
) -> None:
    """Catalogue saved to a real Redis, read by a worker, queried over HTTP: exact answers."""
    redis_client.flushall()
    stores = make_stores((60.17, 24.94), spread, 300, seed)
    save_catalogue(redis_client, stores, source="generated")
    client = create_app(settings, clock=lambda: FIXED_NOW).test_client()
    lat, lng = 60.17 + spread / 3, 24.94 - spread / 5
    body = client.get(
        "/api/v1/stores/nearby",
        query_string={"lat": lat, "lng": lng, "radius_m": radius, "limit": limit},
    ).get_json()
    expected = sorted(
        (haversine_m(lat, lng, s.lat, s.lng), s.id)
        for s in stores
        if haversine_m(lat, lng, s.lat, s.lng) <= radius
    )[:limit]
    assert [s["id"] for s in body["stores"]] == [store_id for _, store_id in expected]


def test_large_catalogue_rebuilds_in_the_background(
    redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """Past the threshold, the old index answers until the new one is ready, then it swaps."""
    from dispatch.storage.catalogue import CatalogueCache

    save_catalogue(redis_client, demo_stores, source="first")
    cache = CatalogueCache(redis_client, poll_s=0.0, background_from=10)
    # the first build is synchronous: nothing to serve before
    assert len(cache.index()) == len(demo_stores)
    first = cache.version
    save_catalogue(redis_client, demo_stores[:20], source="second")
    served = cache.index()  # starts the rebuild, still serves the old index
    assert len(served) in (len(demo_stores), 20)
    cache.wait_for_rebuild(timeout=30)
    assert len(cache.index()) == 20
    assert cache.version is not None and first is not None and cache.version > first


def test_threads_wait_for_the_first_build(
    redis_client: redis.Redis, demo_stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads arriving while a worker builds its first index get that index, never an empty one
    (a gthread worker's first requests come at once)."""
    from dispatch.storage import catalogue

    save_catalogue(redis_client, demo_stores, source="demo")
    slow_read = catalogue.read_catalogue

    def read_slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return slow_read(*args, **kwargs)

    monkeypatch.setattr(catalogue, "read_catalogue", read_slowly)
    cache = catalogue.CatalogueCache(redis_client, poll_s=60.0)
    sizes: list[int] = []
    threads = [threading.Thread(target=lambda: sizes.append(len(cache.index()))) for _ in range(8)]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join()
    assert sizes == [len(demo_stores)] * 8


def test_redis_outage_keeps_serving_from_memory(
    settings: Settings, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """With the index built, nearby keeps answering when Redis goes away; without it, a 503."""
    from dataclasses import replace

    save_catalogue(redis_client, demo_stores, source="demo")
    client = create_app(settings, clock=lambda: FIXED_NOW).test_client()
    assert client.get("/api/v1/stores/nearby?lat=24.1835&lng=120.6010").status_code == 200
    unreachable = replace(settings, redis_url="redis://127.0.0.1:1/0")
    dead = create_app(unreachable, clock=lambda: FIXED_NOW)
    dead.extensions["redis"].connection_pool.connection_kwargs["socket_connect_timeout"] = 0.2
    response = dead.test_client().get("/api/v1/stores/nearby?lat=24.1835&lng=120.6010")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    assert response.headers["Retry-After"] == "5"
    # the first app has its index in memory: point it at the dead server and it still answers
    live = client.application
    cache = live.extensions["catalogue"]
    cache._client = dead.extensions["redis"]
    body = client.get("/api/v1/stores/nearby?lat=24.1835&lng=120.6010").get_json()
    assert body["count"] > 0
