#!/usr/bin/env python3
"""The nearby endpoint over HTTP under concurrent load: gunicorn workers on loopback, wrk as load.

    python scripts/bench_http.py                          # 1M stores, 2 workers, 30 s per radius
    python scripts/bench_http.py --count 100000 --duration 10

It imports the catalogue into a throw-away Redis with the real CLI, starts the service with
gunicorn as scripts/run does, waits until every worker has built its index, warms up, then runs
wrk with a script that walks through query points placed where people live. Prints requests per
second, p50 and p99 latency and the error count per radius.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, ensure_catalogue, free_port, machine, scratch_redis
from synthetic import sample_points

WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wait_for_workers(url: str, stores: int, workers: int, timeout: float) -> None:
    """Poll /healthz until `workers` answers in a row report the whole catalogue."""
    deadline = time.monotonic() + timeout
    in_a_row = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=120) as response:
                body = response.read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        in_a_row = in_a_row + 1 if f'"stores":{stores}' in body.replace(" ", "") else 0
        if in_a_row >= workers * 4:
            return
    raise SystemExit("workers did not load the catalogue in time")


def run_wrk(url: str, script: Path, *, seconds: int, connections: int, threads: int) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(script), url]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def parse_wrk(output: str) -> dict[str, str]:
    found = {
        "rps": re.search(r"Requests/sec:\s+([\d.]+)", output),
        "p50": re.search(r"\s50%\s+([\d.]+\w+)", output),
        "p99": re.search(r"\s99%\s+([\d.]+\w+)", output),
        "non2xx": re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output),
        "errors": re.search(r"Socket errors:(.*)", output),
    }
    return {k: (m.group(1).strip() if m else "0") for k, m in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--catalogue", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30, help="seconds per radius")
    parser.add_argument("--radii", type=float, nargs="+", default=[1000.0, 3000.0])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    catalogue = ensure_catalogue(args.catalogue, args.count)
    print(f"machine: {machine()}")
    lats, lngs, _ = sample_points(20_000, np.random.default_rng(11))
    with scratch_redis(None) as redis_url, tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"REDIS_URL": redis_url}
        flask = [sys.executable, "-m", "flask", "--app", "app", "stores"]
        subprocess.run([*flask, "import", str(catalogue)], env=env, cwd=ROOT, check=True)
        status = subprocess.run(
            [*flask, "status"], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        stores = int(re.search(r": (\d+) stores", status).group(1))  # type: ignore[union-attr]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(args.workers),
             "--bind", f"127.0.0.1:{port}", "--timeout", "300", "app:app"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            started = time.monotonic()
            wait_for_workers(url, stores, args.workers, timeout=900)
            print(f"{args.workers} workers ready in {time.monotonic() - started:.0f} s")
            rows = []
            for radius in args.radii:
                paths = Path(folder) / f"paths_{radius:g}.txt"
                paths.write_text(
                    "".join(
                        f"/api/v1/stores/nearby?lat={a:.6f}&lng={b:.6f}&radius_m={radius:g}&limit=20\n"
                        for a, b in zip(lats, lngs, strict=True)
                    )
                )
                script = Path(folder) / f"wrk_{radius:g}.lua"
                script.write_text(WRK_SCRIPT % {"paths": paths})
                run_wrk(url, script, seconds=5, connections=args.connections, threads=2)  # warm-up
                result = parse_wrk(
                    run_wrk(
                        url, script, seconds=args.duration, connections=args.connections, threads=2
                    )
                )
                rows.append((radius, result))
        finally:
            server.terminate()
            server.wait(timeout=60)
    print()
    print(
        f"catalogue {stores:,} stores, gunicorn {args.workers} sync workers, wrk 2 threads "
        f"{args.connections} connections, {args.duration} s per radius, limit 20"
    )
    print("| radius | requests/s | p50 | p99 | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|")
    for radius, r in rows:
        cells = [f"{radius:g} m", r["rps"], r["p50"], r["p99"], r["non2xx"], r["errors"]]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
