"""The project's own redis-server: started with AOF under the data folder, reused, refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from dispatch.errors import ConfigError, RedisStartError
from dispatch.settings import Settings
from dispatch.storage.server import start_local_redis, stop_local_redis
from tests.conftest import _free_port


def test_starts_with_aof_and_is_reused(tmp_path: Path) -> None:
    """A second start on the same folder and port reuses the running server."""
    port = _free_port()
    url = start_local_redis(tmp_path / "redis", port)
    try:
        client = redis.Redis.from_url(url)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        pid = client.info("server")["process_id"]
        assert start_local_redis(tmp_path / "redis", port) == url
        assert client.info("server")["process_id"] == pid
        assert (tmp_path / "redis" / "redis.pid").exists()
    finally:
        stop_local_redis(url)


def test_port_taken_by_another_server_is_refused(tmp_path: Path) -> None:
    """Someone else's Redis on the port is not silently used."""
    port = _free_port()
    url = start_local_redis(tmp_path / "one", port, persistent=False)
    try:
        with pytest.raises(RedisStartError, match="LOCAL_REDIS_PORT"):
            start_local_redis(tmp_path / "two", port)
    finally:
        stop_local_redis(url)


def test_settings_from_environment() -> None:
    """Settings are parsed from the environment, and a bad value is a clear error."""
    settings = Settings.from_env(
        {"REDIS_URL": "redis://example:6379/0", "PORT": "9000", "H3_RESOLUTION": "9"}
    )
    assert settings.redis_url == "redis://example:6379/0"
    assert settings.port == 9000 and settings.h3_resolution == 9
    assert Settings.from_env({}).redis_url is None
    with pytest.raises(ConfigError, match="bad setting"):
        Settings.from_env({"PORT": "eighty"})
