"""Starting the project's own redis-server when no ``REDIS_URL`` is given (AOF on, data in var/)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from dispatch.errors import RedisStartError


def start_local_redis(data_dir: Path, port: int, *, persistent: bool = True) -> str:
    """Start redis-server on 127.0.0.1:``port`` with its files in ``data_dir``; return its URL.

    A server already answering on that port with the same data directory is reused, so the run
    command, the CLI and a dev server can all call this.
    """
    url = f"redis://127.0.0.1:{port}/0"
    data_dir.mkdir(parents=True, exist_ok=True)
    if _answers(url, data_dir):
        return url
    binary = _binary()
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


def start_local_cluster(data_dir: Path, nodes: int = 3) -> str:
    """Start ``nodes`` redis-servers in cluster mode on free ports and join them into one
    cluster (no replicas, nothing persisted): tests and benchmarks on a real Redis Cluster.
    Return the nodes as REDIS_CLUSTER takes them ("127.0.0.1:port,...")."""
    binary = _binary()
    ports = _cluster_ports(nodes)
    for port in ports:
        folder = data_dir / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        args = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder.resolve()),
            "--daemonize", "yes", "--pidfile", str((folder / "redis.pid").resolve()),
            "--logfile", str((folder / "redis.log").resolve()), "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf", "--appendonly", "no", "--save", "",
        ]  # fmt: skip
        subprocess.run(args, check=True, capture_output=True)
    addresses = [f"127.0.0.1:{port}" for port in ports]
    _wait(lambda: all(redis.Redis(port=port).ping() for port in ports), "start")
    create = ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0"]
    subprocess.run([*create, "--cluster-yes"], check=True, capture_output=True, timeout=60)
    _wait(lambda: all(_cluster_state(port) == "ok" for port in ports), "agree on its slots")
    return ",".join(addresses)


def stop_local_cluster(nodes: str) -> None:
    for address in nodes.split(","):
        stop_local_redis(f"redis://{address}/0")


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (10000 above) is free and below 65536 too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port >= 55_000 or port in ports:
            continue
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port + 10_000)) != 0:  # nobody on the bus port
                ports.append(port)
    return ports


def _cluster_state(port: int) -> str:
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=2)
    try:
        info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    return str(info["cluster_state"])


def _wait(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if ready():
                return
        time.sleep(0.1)
    msg = f"the local Redis Cluster did not {what} in time"
    raise RedisStartError(msg)


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        msg = (
            "redis-server is not installed (scripts/run installs it: apt-get install redis-server)"
        )
        raise RedisStartError(msg)
    return binary


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
    # `python -m dispatch.storage.server`: start (or find) the local server and print its URL.
    from dispatch.settings import Settings

    settings = Settings.from_env()
    print(start_local_redis(settings.var_dir / "redis", settings.local_redis_port))
