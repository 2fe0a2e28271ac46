"""Helpers shared by the benchmark scripts: machine description, timing summaries, a Redis."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis

from dispatch.storage.server import (
    start_local_cluster,
    start_local_redis,
    stop_local_cluster,
    stop_local_redis,
)

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[2:3]
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"redis-server {''.join(redis_version).removeprefix('v=')}"
    )


def ensure_catalogue(path: Path | None, count: int) -> Path:
    """The catalogue to benchmark on: ``path``, or a generated one of ``count`` stores."""
    if path is not None:
        return path
    generated = ROOT / "data" / "generated" / f"stores_{count}.parquet"
    if not generated.exists():
        script = ROOT / "scripts" / "generate_catalogue.py"
        command = [sys.executable, str(script), "--count", str(count), "--out", str(generated)]
        subprocess.run(command, check=True)
    return generated


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary_us(seconds: list[float]) -> tuple[float, float]:
    """(median, p99) in microseconds."""
    return statistics.median(seconds) * 1e6, percentile(seconds, 0.99) * 1e6


@dataclass(frozen=True)
class VroomRoutes:
    """What VROOM found: each used vehicle's location indices in visiting order."""

    routes: list[list[int]]
    unassigned: int
    seconds: float


def solve_with_vroom(problem: Any, seconds: float) -> VroomRoutes:
    """The VROOM peer as every routing benchmark runs it: exploration 5, 2 threads, a timeout."""
    started = time.perf_counter()
    solution = problem.solve(exploration_level=5, nb_threads=2, timeout=timedelta(seconds=seconds))
    elapsed = time.perf_counter() - started
    table = solution.routes
    routes = [
        [int(n) for n in table[table["vehicle_id"] == vehicle]["location_index"]]
        for vehicle in table["vehicle_id"].unique()
    ]
    return VroomRoutes(routes, int(solution.summary.unassigned), elapsed)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_redis(url: str | None) -> Iterator[str]:
    """The given Redis, or a throw-away local redis-server (no persistence) for the run."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        started = start_local_redis(Path(folder), free_port(), persistent=False)
        try:
            yield started
        finally:
            stop_local_redis(started)


@contextmanager
def scratch_cluster(resolution: int) -> Iterator[str]:
    """A throw-away three-node Redis Cluster for the run, with dispatch regions (order homes) at
    H3 ``resolution``. The service's commands here (:func:`flask_cli`, :func:`served`) reach it
    through REDIS_CLUSTER, which the settings prefer over REDIS_URL."""
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        nodes = start_local_cluster(Path(folder))
        os.environ["REDIS_CLUSTER"] = nodes
        os.environ["DISPATCH_REGION_RESOLUTION"] = str(resolution)
        try:
            yield nodes
        finally:
            stop_local_cluster(nodes)


def used_memory(client: Any) -> int:
    """Redis's used memory in bytes, summed over the nodes of a cluster."""
    if isinstance(client, redis.RedisCluster):
        per_node = client.info("memory", target_nodes=redis.RedisCluster.PRIMARIES)
        return sum(int(node["used_memory"]) for node in per_node.values())
    return int(client.info("memory")["used_memory"])


FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def flask_cli(redis_url: str, *args: str) -> str:
    """Run a ``flask --app app`` command against ``redis_url``; return what it printed."""
    env = os.environ | {"REDIS_URL": redis_url}
    done = subprocess.run(
        [*FLASK, *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return done.stdout


@contextmanager
def served(redis_url: str, *, workers: int, stores: int) -> Iterator[str]:
    """The service under gunicorn, as scripts/run starts it, once every worker has its index."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf"]
    command += ["--workers", str(workers)]
    command += ["--worker-class", "gthread", "--threads", "8"]  # as scripts/run starts it
    command += ["--bind", f"127.0.0.1:{port}", "--timeout", "300", "app:app"]
    env = os.environ | {"REDIS_URL": redis_url}
    server = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        started = time.monotonic()
        _wait_for_workers(url, stores, workers, timeout=900)
        print(f"{workers} workers ready in {time.monotonic() - started:.0f} s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def _wait_for_workers(url: str, stores: int, workers: int, timeout: float) -> None:
    """Poll /readyz until enough answers in a row report the whole catalogue."""
    deadline = time.monotonic() + timeout
    in_a_row = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=120) as response:
                body = response.read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        in_a_row = in_a_row + 1 if f'"stores":{stores}' in body.replace(" ", "") else 0
        if in_a_row >= workers * 4:
            return
    raise SystemExit("workers did not load the catalogue in time")


def run_wrk(
    url: str, script: Path, *, seconds: int, connections: int, threads: int = 2
) -> dict[str, str]:
    """Run wrk with a Lua script; return requests/s, p50, p99 and error counts."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    output = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    found = {
        "rps": re.search(r"Requests/sec:\s+([\d.]+)", output),
        "p50": re.search(r"\s50%\s+([\d.]+\w+)", output),
        "p99": re.search(r"\s99%\s+([\d.]+\w+)", output),
        "non2xx": re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output),
        "errors": re.search(r"Socket errors:(.*)", output),
    }
    return {k: (m.group(1).strip() if m else "0") for k, m in found.items()}
