#!/usr/bin/env python3
"""How long a web worker takes to answer its first nearby query, and what memory it holds.

    python scripts/bench_worker_start.py                     # 1M stores
    python scripts/bench_worker_start.py --count 100000

The catalogue is imported with the real CLI into a throw-away Redis. Each "worker" is a fresh
Python process doing what a gunicorn worker does: import the app, create it, answer
GET /api/v1/stores/nearby (the first request builds or maps the index). The first worker finds no
saved index and builds it (reading the catalogue from Redis); the next ones map the saved
folder. Time is from process start to the first answer; memory from /proc: resident (RSS), its
private part (anonymous pages) and its file-backed part (the mapped index, shared by every worker
of the machine through the page cache).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import ROOT, ensure_catalogue, flask_cli, machine, scratch_redis

WORKER = """
import json, time
from web import create_app
from dispatch.settings import Settings
app = create_app(Settings.from_env())
reply = app.test_client().get("/api/v1/stores/nearby?lat=25.0330&lng=121.5654&radius_m=1000")
answered = time.time()
status = {}
for line in open("/proc/self/status"):
    key, _, value = line.partition(":")
    if key in ("VmRSS", "RssAnon", "RssFile"):
        status[key] = int(value.split()[0]) * 1024
print(json.dumps({"answered": answered, "status": reply.status_code,
                  "count": reply.get_json()["count"], **status}))
"""


def start_worker(redis_url: str, tmp: Path) -> dict[str, float]:
    env = os.environ | {"REDIS_URL": redis_url, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, cwd=ROOT, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["seconds"] = report["answered"] - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--catalogue", type=Path)
    parser.add_argument("--warm", type=int, default=3, help="workers started after the first")
    args = parser.parse_args()
    catalogue = ensure_catalogue(args.catalogue, args.count)
    print(f"machine: {machine()}")
    mib = 1024 * 1024
    with scratch_redis(None) as redis_url, tempfile.TemporaryDirectory() as folder:
        flask_cli(redis_url, "stores", "import", str(catalogue))
        first = start_worker(redis_url, Path(folder))
        warm = [start_worker(redis_url, Path(folder)) for _ in range(args.warm)]
    print()
    print(f"catalogue {args.count:,} stores ({catalogue.name})")
    print("| worker | first answer after | RSS | of which private | of which mapped files |")
    print("|---|---|---|---|---|")
    rows = [("first (builds and saves the index)", [first])]
    rows.append((f"next (maps the saved index), median of {len(warm)}", warm))
    for name, runs in rows:
        cells = [
            f"{statistics.median(r['seconds'] for r in runs):.1f} s",
            f"{statistics.median(r['VmRSS'] for r in runs) / mib:.0f} MiB",
            f"{statistics.median(r['RssAnon'] for r in runs) / mib:.0f} MiB",
            f"{statistics.median(r['RssFile'] for r in runs) / mib:.0f} MiB",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if any(r["status"] != 200 or r["count"] == 0 for r in [first, *warm]):
        raise SystemExit("a worker did not answer the query")


if __name__ == "__main__":
    main()
