#!/usr/bin/env python3
"""Order intake under concurrent clients: POST /api/v1/orders with matching, on loopback.

    python scripts/bench_orders.py                         # 30 s, 16 connections, 4 workers
    python scripts/bench_orders.py --cluster               # the same on a 3-node Redis Cluster

Runs the service as scripts/run does over the demo catalogue (Taichung and Zhubei) with stock
and hourly capacity raised so that orders are accepted rather than refused, then wrk posts
orders with unique channel ids from points around the Taichung stores. Every request does the
whole intake: validation, idempotency check, nearby candidates, stock and capacity snapshot,
ranking and the atomic Lua placement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_common import (
    ROOT,
    flask_cli,
    machine,
    run_wrk,
    scratch_cluster,
    scratch_redis,
    served,
    used_memory,
)

from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage.client import redis_client

WRK_SCRIPT = """
local counter = 0
local threads = 0
setup = function(thread)  -- ids unique across threads and runs: run tag, thread number, count
  threads = threads + 1
  thread:set("tag", "%(run)s-" .. threads)
end
request = function()
  counter = counter + 1
  local lat = 24.179 + math.random() * 0.009
  local lng = 120.593 + math.random() * 0.019
  local body = string.format(
    '{"channel":"app","external_id":"%%s-%%d","lat":%%.6f,"lng":%%.6f,' ..
    '"items":[{"sku":"water-600ml","qty":1},{"sku":"tea-egg","qty":2}]}', tag, counter, lat, lng)
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %(token)s"}, body)
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=4, help="as scripts/run: 2 per core")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument(
        "--cluster", action="store_true",
        help="a local 3-node Redis Cluster, orders homed by H3 res-7 region, instead of one server",
    )  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {machine()}")
    demo = json.loads((ROOT / "data" / "demo_stores.geojson").read_text())
    for feature in demo["features"]:
        feature["properties"]["capacity_per_hour"] = 1_000_000  # measure intake, not refusals
    where = scratch_cluster(resolution=7) if args.cluster else scratch_redis(None)
    with where as redis_url, tempfile.TemporaryDirectory() as folder:
        catalogue = Path(folder) / "stores.geojson"
        catalogue.write_text(json.dumps(demo, ensure_ascii=False))
        flask_cli(redis_url, "stores", "import", str(catalogue))
        flask_cli(redis_url, "products", "import", str(ROOT / "data" / "demo_products.csv"))
        stock = Path(folder) / "stock.csv"
        stock.write_text("store_id,sku,qty\n" + "".join(
            f"{f['properties']['id']},{sku},10000000\n"
            for f in demo["features"] for sku in ("water-600ml", "tea-egg")
        ))  # fmt: skip
        flask_cli(redis_url, "stock", "import", str(stock))
        client = redis_client(Settings.from_env(os.environ | {"REDIS_URL": redis_url}))
        warmup, timed = Path(folder) / "warmup.lua", Path(folder) / "timed.lua"
        token = flask_cli(redis_url, "tokens", "issue", "--role", "dispatcher").split()[-1]
        warmup.write_text(WRK_SCRIPT % {"run": "warmup", "token": token})
        timed.write_text(WRK_SCRIPT % {"run": "timed", "token": token})
        with served(redis_url, workers=args.workers, stores=len(demo["features"])) as url:
            run_wrk(url, warmup, seconds=3, connections=args.connections)
            before = client.xlen(order_keys.ORDER_STREAM)
            result = run_wrk(url, timed, seconds=args.duration, connections=args.connections)
            created = client.xlen(order_keys.ORDER_STREAM) - before
        memory = used_memory(client)
        orders = client.xlen(order_keys.ORDER_STREAM)
    print()
    print(
        f"{'3-node Redis Cluster' if args.cluster else 'one redis-server'}, "
        f"demo catalogue ({len(demo['features'])} stores), gunicorn {args.workers} gthread "
        f"workers, wrk 2 threads {args.connections} connections, {args.duration} s, 2-line orders"
    )
    print(
        "| orders/s | p50 | p99 | non-2xx | socket errors | orders created"
        " | Redis memory per order |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {result['rps']} | {result['p50']} | {result['p99']} | {result['non2xx']} | "
        f"{result['errors']} | {created:,} | {memory / max(orders, 1):,.0f} B |"
    )


if __name__ == "__main__":
    main()
