"""Helpers shared by the benchmark scripts: machine description, timing summaries, a Redis."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from web.redis_server import start_local_redis, stop_local_redis

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
