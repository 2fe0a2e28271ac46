#!/usr/bin/env python3
"""The nearby endpoint over HTTP under concurrent load: gunicorn workers on loopback, wrk as load.

    python scripts/bench_http.py                          # 1M stores, 2 workers, 30 s per radius
    python scripts/bench_http.py --count 100000 --duration 10

It imports the catalogue into a throw-away Redis with the real CLI, starts the service with
gunicorn as scripts/run does, waits until every worker has built its index, warms up, then runs
wrk with a script that walks through query points placed where people live. Prints requests per
second, p50 and p99 latency and the error count per radius.

The machine may be shared, so the same run also loads ``GET /healthz`` (Flask, the metrics, the
headers, no search) as a peer, and reads the CPU time the gunicorn processes spent during each
timed run from /proc: requests per CPU-second of the server, and nearby's throughput as a share
of the trivial endpoint's, mean something under load where requests/s alone does not.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import (
    ensure_catalogue,
    flask_cli,
    machine,
    run_wrk,
    scratch_redis,
    served,
)
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


def server_cpu_s(port: int) -> float:
    """CPU seconds (user + system) so far of the gunicorn master on ``port`` and its workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, cpu seconds)
    master = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
        if b"gunicorn" in b" ".join(cmdline) and f"127.0.0.1:{port}".encode() in cmdline:
            master = int(entry.name)
    if master is None:
        raise SystemExit(f"no gunicorn serving port {port}")
    return sum(cpu for pid, (parent, cpu) in stats.items() if master in (pid, parent))


def timed_run(url: str, script: Path, *, seconds: int, connections: int) -> dict[str, str]:
    """wrk's figures plus the server's CPU seconds over the run and per request."""
    port = int(url.rsplit(":", 1)[1])
    before = server_cpu_s(port)
    result = run_wrk(url, script, seconds=seconds, connections=connections)
    cpu = server_cpu_s(port) - before
    requests = float(result["rps"]) * seconds
    result["cpu_s"] = f"{cpu:.1f}"
    result["per_cpu_s"] = f"{requests / cpu:.0f}" if cpu > 0 else "n/a"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--catalogue", type=Path)
    parser.add_argument("--workers", type=int, default=2, help="each holds the 1M-store index")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30, help="seconds per radius")
    parser.add_argument("--radii", type=float, nargs="+", default=[1000.0, 3000.0])
    parser.add_argument("--warmup", type=int, default=15, help="untimed seconds first, per radius")
    args = parser.parse_args()
    catalogue = ensure_catalogue(args.catalogue, args.count)
    print(f"machine: {machine()}")
    # wrk's connections all come from 127.0.0.1: one caller, far past any per-caller limit
    os.environ["RATE_LIMIT_PER_MINUTE"] = "0"
    lats, lngs, _ = sample_points(20_000, np.random.default_rng(11))
    with scratch_redis(None) as redis_url, tempfile.TemporaryDirectory() as folder:
        flask_cli(redis_url, "stores", "import", str(catalogue))
        status = flask_cli(redis_url, "stores", "status")
        stores = int(re.search(r": (\d+) stores", status).group(1))  # type: ignore[union-attr]
        rows = []
        with served(redis_url, workers=args.workers, stores=stores) as url:
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
                load = {"connections": args.connections}
                run_wrk(url, script, seconds=args.warmup, **load)  # not recorded
                rows.append(
                    (f"{radius:g} m", timed_run(url, script, seconds=args.duration, **load))
                )
            health = Path(folder) / "wrk_healthz.lua"
            health.write_text('request = function() return wrk.format("GET", "/healthz") end\n')
            run_wrk(url, health, seconds=min(args.warmup, 5), connections=args.connections)
            peer = timed_run(url, health, seconds=args.duration, connections=args.connections)
            rows.append(("/healthz", peer))
    print()
    print(
        f"catalogue {stores:,} stores, gunicorn {args.workers} gthread workers, wrk 2 threads "
        f"{args.connections} connections, {args.duration} s per radius after {args.warmup} s "
        f"warm-up, limit 20"
    )
    print(
        "| path | requests/s | p50 | p99 | non-2xx | socket errors | server CPU s "
        "| requests per server CPU-second | ÷ /healthz requests/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        share = float(r["rps"]) / float(peer["rps"]) if float(peer["rps"]) else 0.0
        cells = [name, r["rps"], r["p50"], r["p99"], r["non2xx"], r["errors"], r["cpu_s"]]
        cells += [r["per_cpu_s"], f"{share:.2f}"]
        print("| " + " | ".join(cells) + " |")
    print(f"load average during the run (1/5/15 min, at the end): {os.getloadavg()}")


if __name__ == "__main__":
    main()
