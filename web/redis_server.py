"""Starting the project's own redis-server when no ``REDIS_URL`` is given (AOF on, data in var/)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import redis

from web.errors import RedisStartError


def start_local_redis(data_dir: Path, port: int, *, persistent: bool = True) -> str:
    """Start redis-server on 127.0.0.1:``port`` with its files in ``data_dir``; return its URL.

    A server already answering on that port with the same data directory is reused, so the run
    command, the CLI and a dev server can all call this.
    """
    url = f"redis://127.0.0.1:{port}/0"
    data_dir.mkdir(parents=True, exist_ok=True)
    if _answers(url, data_dir):
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        msg = (
            "redis-server is not installed (scripts/run installs it: apt-get install redis-server)"
        )
        raise RedisStartError(msg)
    args = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir.resolve()),
        "--daemonize", "yes",
        "--pidfile", str((data_dir / "redis.pid").resolve()),
        "--logfile", str((data_dir / "redis.log").resolve()),
        "--appendonly", "yes" if persistent else "no",
        "--appendfsync", "everysec",
        "--save", "" if not persistent else "900 1",
    ]  # fmt: skip
    subprocess.run(args, check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _answers(url, data_dir):
            return url
        time.sleep(0.05)
    msg = f"redis-server did not answer on port {port}; see {data_dir / 'redis.log'}"
    raise RedisStartError(msg)


def stop_local_redis(url: str) -> None:
    """Ask a server started by :func:`start_local_redis` to shut down (saving nothing more)."""
    # shutting down closes the connection; an absent server is already stopped
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis.from_url(url).shutdown(nosave=True)


def _answers(url: str, data_dir: Path) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=1)
    try:
        served_dir = client.config_get("dir").get("dir")
    except redis.RedisError:
        return False
    finally:
        client.close()
    if served_dir != str(data_dir.resolve()):
        msg = f"port {url} is taken by a redis-server serving {served_dir}; set LOCAL_REDIS_PORT"
        raise RedisStartError(msg)
    return True


if __name__ == "__main__":
    # `python -m web.redis_server`: start (or find) the local server and print its URL.
    from web.settings import Settings

    settings = Settings.from_env()
    print(start_local_redis(settings.var_dir / "redis", settings.local_redis_port))
