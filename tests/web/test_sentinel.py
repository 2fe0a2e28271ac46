"""Pointed at Redis Sentinel by configuration, the service finds the master through it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from dispatch.settings import Settings
from dispatch.storage.client import redis_client as connect
from tests.conftest import _free_port


@pytest.fixture
def sentinel(redis_url: str, tmp_path: Path) -> Iterator[int]:
    """A real redis-sentinel watching the session's redis-server as "shop"."""
    master = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    port = _free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor shop 127.0.0.1 {master['port']} 1\n"
    )
    binary = shutil.which("redis-sentinel") or shutil.which("redis-server")
    assert binary is not None
    process = subprocess.Popen([binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_the_client_reaches_the_master_through_sentinel(
    sentinel: int, settings: Settings, redis_client: redis.Redis
) -> None:
    through = replace(
        Settings.from_env(
            {"REDIS_SENTINELS": f"127.0.0.1:{sentinel}", "REDIS_SENTINEL_MASTER": "shop"}
        ),
        var_dir=settings.var_dir,
    )
    assert through.redis_url is None and through.redis_sentinels == (("127.0.0.1", sentinel),)
    client = connect(through)
    client.set("sentinel-probe", "yes")
    assert redis_client.get("sentinel-probe") == b"yes"  # the same server as REDIS_URL's


def test_bad_sentinel_settings_are_refused() -> None:
    with pytest.raises(Exception, match="REDIS_SENTINELS"):
        Settings.from_env({"REDIS_SENTINELS": "nohost"})
