"""Kill the web server and Redis with SIGKILL mid-stream: nothing acknowledged is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import redis

from dispatch.settings import PROJECT_ROOT
from dispatch.storage import orders as stored_orders
from dispatch.storage.server import start_local_redis, stop_local_redis
from tests.conftest import DEMO_CATALOGUE, DEMO_PRODUCTS, DEMO_STOCK, _free_port, keyspace

SKUS = ("water-600ml", "tea-egg", "apple")
FLASK = [sys.executable, "-m", "flask", "--app", "app"]
GUNICORN = [sys.executable, "-m", "gunicorn"]


def post_order(
    base: str, token: str, external_id: str, sku: str
) -> tuple[int, dict[str, Any] | None]:
    body = {"channel": "web", "external_id": external_id, "lat": 24.1845, "lng": 120.6040,
            "items": [{"sku": sku, "qty": 1}]}  # fmt: skip
    request = urllib.request.Request(
        f"{base}/api/v1/orders", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())["order"]
    except urllib.error.HTTPError as error:
        return error.code, None


def start_web(redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"REDIS_URL": redis_url}
    server = subprocess.Popen(
        [*GUNICORN, "--workers", "2", "--bind", f"127.0.0.1:{port}", "app:app"],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.2)
    raise AssertionError("web server did not start")


def test_sigkill_web_and_redis_loses_no_acknowledged_order(tmp_path: Path) -> None:
    """Every 201 survives; stock reserved equals stock of the orders that exist, no more."""
    data_dir, redis_port, web_port = tmp_path / "redis", _free_port(), _free_port()
    url = start_local_redis(data_dir, redis_port)  # AOF on, as the run command does
    env = os.environ | {"REDIS_URL": url}
    for args in (["stores", "import", str(DEMO_CATALOGUE)],
                 ["products", "import", str(DEMO_PRODUCTS)],
                 ["stock", "import", str(DEMO_STOCK)]):  # fmt: skip
        subprocess.run([*FLASK, *args], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    issue = [*FLASK, "tokens", "issue", "--role", "dispatcher"]
    issued = subprocess.run(issue, env=env, cwd=PROJECT_ROOT, check=True, capture_output=True,
                            text=True)  # fmt: skip
    token = issued.stdout.split()[-1]
    client = redis.Redis.from_url(url)
    stores = [stocked.store_id for stocked in stored_orders.stocked_stores(client)]
    for store_id in stores:
        stored_orders.set_stock(client, keyspace(store_id), {sku: 400 for sku in SKUS})
    initial = {s: stored_orders.stock_levels(client, keyspace(s)) for s in stores}
    server = start_web(url, web_port)
    base = f"http://127.0.0.1:{web_port}"
    acknowledged: list[dict[str, Any]] = []
    stop = threading.Event()

    def shopper(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, order = post_order(base, token, f"w{n}-{i}", SKUS[i % len(SKUS)])
            except OSError:
                continue  # the server is gone: that request got no answer, so no promise
            if status == 201 and order is not None:
                acknowledged.append(order)

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    redis_pid = int((data_dir / "redis.pid").read_text())
    os.killpg(server.pid, signal.SIGKILL)
    os.kill(redis_pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    server.wait(timeout=10)
    assert len(acknowledged) > 20, "too few orders went through to test anything"

    url = start_local_redis(data_dir, redis_port)  # restart on the same AOF
    server = start_web(url, web_port)
    try:
        client = redis.Redis.from_url(url)
        for order in acknowledged:
            request = urllib.request.Request(
                f"{base}/api/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=5) as r:
                assert json.loads(r.read())["order"]["store_id"] == order["store_id"]
        reserved: dict[tuple[str, str], int] = {}
        for key in client.scan_iter("order:*"):
            stored = json.loads(client.get(key))  # type: ignore[arg-type]
            for item in stored["items"]:
                pair = (stored["store_id"], item["sku"])
                reserved[pair] = reserved.get(pair, 0) + item["qty"]
        for store_id in stores:
            now = stored_orders.stock_levels(client, keyspace(store_id))
            for sku in SKUS:
                taken = initial[store_id][sku] - now[sku]
                assert taken == reserved.get((store_id, sku), 0), (store_id, sku)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        stop_local_redis(url)
