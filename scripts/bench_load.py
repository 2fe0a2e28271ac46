#!/usr/bin/env python3
"""A mixed load against the service as scripts/run starts it: searches, orders, pings, plans.

    python scripts/bench_load.py       # 60 s, gunicorn 2 workers per core + dispatcher worker

Four wrk clients run at once for the whole duration, their connections in the proportions of a
delivery platform's traffic: shoppers' nearby searches (8 connections), shoppers' orders (3),
couriers' location pings (3) and dispatchers' plan reads (1). Each prints its own throughput,
p50 and p99 and error count (non-2xx and socket errors; the goal is zero). The dispatcher worker
re-plans beside the web server throughout. Rate limits are off (all clients share one address).
At the end: orders created, and Redis memory per
100,000 orders (used memory growth over the run divided by orders created).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dispatch.storage import order_keys

sys.path.insert(0, str(Path(__file__).resolve().parent))
import redis
from benchmark_common import ROOT, flask_cli, machine, run_wrk, scratch_redis, served

SKUS = ("water-600ml", "tea-egg")
NEARBY = """
request = function()
  local lat = 24.179 + math.random() * 0.009
  local lng = 120.593 + math.random() * 0.019
  return wrk.format("GET", string.format(
    "/api/v1/stores/nearby?lat=%.6f&lng=%.6f&radius_m=1500&limit=10&open_now=true", lat, lng))
end
"""
ORDERS = """
local counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tag", "%(run)s-" .. threads)
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"channel":"app","external_id":"%%s-%%d","lat":%%.6f,"lng":%%.6f,' ..
    '"items":[{"sku":"water-600ml","qty":1},{"sku":"tea-egg","qty":2}]}',
    tag, counter, 24.179 + math.random() * 0.009, 120.593 + math.random() * 0.019)
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %(shopper)s"}, body)
end
"""
PINGS = """
request = function()  -- one courier's phone sending its buffer: small moves, the current time
  local at = os.date("!%%Y-%%m-%%dT%%H:%%M:%%S+00:00")
  local body = string.format('{"pings":[{"lat":%%.6f,"lng":%%.6f,"at":"%%s"}]}',
    24.1830 + math.random() * 0.0002, 120.6010 + math.random() * 0.0002, at)
  return wrk.format("POST", "/api/v1/courier/pings", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %(courier)s"}, body)
end
"""
PLAN = """
request = function()
  return wrk.format("GET", "/api/v1/dispatch/plan", {["Authorization"] = "Bearer %(dispatcher)s"})
end
"""
MIX = (("nearby search", NEARBY, 8), ("order placement", ORDERS, 3),
       ("courier pings", PINGS, 3), ("plan reads", PLAN, 1))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=4, help="as scripts/run: 2 per core")
    parser.add_argument("--duration", type=int, default=60)
    args = parser.parse_args()
    # every simulated shopper and phone comes from 127.0.0.1 with a handful of tokens: the
    # per-caller rate limits would measure themselves, so they are off for this run
    os.environ["RATE_LIMIT_PER_MINUTE"] = "0"
    print(f"machine: {machine()}")
    demo = json.loads((ROOT / "data" / "demo_stores.geojson").read_text())
    for feature in demo["features"]:
        feature["properties"]["capacity_per_hour"] = 1_000_000  # measure the load, not refusals
    with scratch_redis(None) as redis_url, tempfile.TemporaryDirectory() as folder:
        catalogue = Path(folder) / "stores.geojson"
        catalogue.write_text(json.dumps(demo, ensure_ascii=False))
        flask_cli(redis_url, "stores", "import", str(catalogue))
        flask_cli(redis_url, "products", "import", str(ROOT / "data" / "demo_products.csv"))
        flask_cli(redis_url, "couriers", "import", str(ROOT / "data" / "demo_couriers.csv"))
        stock = Path(folder) / "stock.csv"
        stock.write_text("store_id,sku,qty\n" + "".join(
            f"{f['properties']['id']},{sku},{10**7}\n" for f in demo["features"] for sku in SKUS
        ))  # fmt: skip
        flask_cli(redis_url, "stock", "import", str(stock))
        client = redis.Redis.from_url(redis_url)
        tokens = {
            "shopper": _token(redis_url, "shopper", "load-shopper"),
            "courier": _token(redis_url, "courier", "tc-01"),
            "dispatcher": _token(redis_url, "dispatcher", None),
            "run": "load",
        }
        scripts = []
        for name, lua, connections in MIX:
            path = Path(folder) / f"{name.replace(' ', '-')}.lua"
            path.write_text(lua % tokens if "%(" in lua else lua)
            scripts.append((name, path, connections))
        env = os.environ | {"REDIS_URL": redis_url, "REPLAN_SECONDS": "5"}
        worker = subprocess.Popen([sys.executable, "-m", "dispatch.worker"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            with served(redis_url, workers=args.workers, stores=len(demo["features"])) as url:
                memory_before = client.info("memory")["used_memory"]
                orders_before = client.xlen(order_keys.ORDER_STREAM)
                with ThreadPoolExecutor(len(scripts)) as pool:
                    futures = {
                        name: pool.submit(
                            run_wrk,
                            url,
                            path,
                            seconds=args.duration,
                            connections=connections,
                            threads=1,
                        )
                        for name, path, connections in scripts
                    }
                    results = {name: future.result() for name, future in futures.items()}
                created = client.xlen(order_keys.ORDER_STREAM) - orders_before
                grown = client.info("memory")["used_memory"] - memory_before
                plan_version = client.get("plan:version")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print()
    print(f"demo catalogue, gunicorn {args.workers} gthread workers + dispatcher worker, "
          f"{args.duration} s, four wrk clients at once")  # fmt: skip
    print("| traffic | connections | requests/s | p50 | p99 | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for name, _, connections in scripts:
        r = results[name]
        print(f"| {name} | {connections} | {r['rps']} | {r['p50']} | {r['p99']} | "
              f"{r['non2xx']} | {r['errors']} |")  # fmt: skip
    per_100k = grown / max(created, 1) * 100_000
    print(
        f"\norders created: {created:,}; plans written: {int(plan_version or 0)}; "
        f"Redis memory growth {grown / 2**20:.1f} MiB = {per_100k / 2**20:.0f} MiB per 100k orders"
    )


def _token(redis_url: str, role: str, subject: str | None) -> str:
    args = ["tokens", "issue", "--role", role] + (["--subject", subject] if subject else [])
    return flask_cli(redis_url, *args).split()[-1]


if __name__ == "__main__":
    main()
