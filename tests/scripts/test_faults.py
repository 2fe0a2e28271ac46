"""Kill the dispatcher worker, then Redis, while orders keep coming: every order is planned
again, an order already picked up stays with its courier, and nothing accepted is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from flask.testing import FlaskClient

from dispatch.settings import PROJECT_ROOT, Settings
from dispatch.storage import orders as stored_orders
from dispatch.storage.plans import current_plan
from dispatch.storage.server import start_local_redis, stop_local_redis
from dispatch.storage.tokens import issue_token
from tests.conftest import DEMO_CATALOGUE, DEMO_PRODUCTS, DEMO_STOCK, _free_port, bearer
from tests.web.test_orders_api import order_body
from web import create_app

FLASK = [sys.executable, "-m", "flask", "--app", "app"]
COURIERS = PROJECT_ROOT / "data" / "demo_couriers.csv"


def start_worker(url: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"REDIS_URL": url, "REPLAN_SECONDS": "1", "PLAN_TIME_LIMIT_SECONDS": "0.3"}
    return subprocess.Popen([sys.executable, "-m", "dispatch.worker"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def plan_covering(client: redis.Redis, ids: set[str], timeout: float = 30) -> dict[str, Any]:
    """Wait for a plan that routes every one of ``ids``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stored = current_plan(client)
            plan = stored.to_record() if stored else {"routes": []}
        except redis.ConnectionError:
            plan = {"routes": []}
        planned = {s["order_id"] for r in plan["routes"] for s in r["stops"]}
        if ids <= planned:
            return plan
        time.sleep(0.3)
    raise AssertionError(f"orders never planned: {sorted(ids - planned)}")


def holder(plan: dict[str, Any], order_id: str) -> set[str]:
    return {
        r["courier_id"] for r in plan["routes"] for s in r["stops"] if s["order_id"] == order_id
    }


def place(shop: FlaskClient, external_id: str) -> str:
    response = shop.post("/api/v1/orders", json=order_body(external_id))
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["order"]["id"])


def test_killing_the_worker_and_redis_loses_no_order_and_no_pick_up(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "redis", _free_port()
    url = start_local_redis(data_dir, port)  # AOF on, as the run command does
    env = os.environ | {"REDIS_URL": url}
    imports = {"stores": DEMO_CATALOGUE, "products": DEMO_PRODUCTS, "stock": DEMO_STOCK,
               "couriers": COURIERS}  # fmt: skip
    for command, path in imports.items():
        args = [command, "import", str(path)]
        subprocess.run([*FLASK, *args], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    client = redis.Redis.from_url(url)
    app = create_app(replace(Settings(), redis_url=url, var_dir=tmp_path / "var"))
    dispatcher = issue_token(client, "dispatcher", None, at=datetime.now(UTC))[1]
    shop = app.test_client()
    shop.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {dispatcher}"
    worker = start_worker(url)
    try:
        ids = {place(shop, f"F-{i}") for i in range(6)}
        plan = plan_covering(client, ids)
        picked = sorted(ids)[0]
        (courier,) = holder(plan, picked)
        phone = bearer(issue_token(client, "courier", courier, at=datetime.now(UTC))[1])
        pick_up = {"event_id": "k1", "order_id": picked, "type": "picked_up"}
        done = shop.post("/api/v1/courier/events", headers=phone, json=pick_up)
        assert done.status_code == 200, done.get_json()

        worker.send_signal(signal.SIGKILL)  # the dispatcher worker dies mid-day
        worker.wait(timeout=10)
        ids |= {place(shop, f"G-{i}") for i in range(3)}
        worker = start_worker(url)
        plan = plan_covering(client, ids)
        assert holder(plan, picked) == {courier}

        redis_pid = int((data_dir / "redis.pid").read_text())
        os.kill(redis_pid, signal.SIGKILL)  # then Redis itself; the worker must ride it out
        time.sleep(1.5)
        start_local_redis(data_dir, port)  # restarted on the same append-only file
        ids |= {place(shop, f"H-{i}") for i in range(3)}
        plan = plan_covering(client, ids)
        assert holder(plan, picked) == {courier}, "a started leg changed hands"
        assert all(stored_orders.get_order(client, i) is not None for i in ids), "an order was lost"
        assert stored_orders.get_order(client, picked).status == "picked_up"  # type: ignore[union-attr]
        assert worker.poll() is None, "the worker died with Redis instead of waiting for it"
    finally:
        worker.kill()
        worker.wait(timeout=10)
        stop_local_redis(url)
