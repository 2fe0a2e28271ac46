"""The README's run command serves the demo: scripts/run, gunicorn and real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import redis
from prometheus_client.parser import text_string_to_metric_families

from dispatch.settings import PROJECT_ROOT
from tests.conftest import _free_port


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


SCRAPER = "scraper-token-for-the-test"


def get_text(url: str, **headers: str) -> str:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


def nearby_answered(figures: str, status: str) -> float:
    """The count of nearby requests answered with ``status``, from a scrape."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(figures)
        for sample in family.samples
        if sample.name == "nearby_dispatch_http_requests_total"
        and sample.labels["route"] == "/api/v1/stores/nearby"
        and sample.labels["status"] == status
    )


def _figures_add_up_across_workers(base: str, metrics_port: int, worker_port: int) -> None:
    """/metrics (scraper token), the metrics port (no token) and the worker's port: the nearby
    requests of both gunicorn workers counted once each, whichever worker answers the scrape."""
    for _ in range(20):
        get_json(f"{base}/api/v1/stores/nearby?lat=24.18&lng=120.6")
    try:
        get_text(f"{base}/metrics")
        raise AssertionError("an anonymous scrape was answered")
    except urllib.error.HTTPError as error:
        assert error.code == 401
    auth = {"Authorization": f"Bearer {SCRAPER}"}
    for _ in range(4):  # answered by either worker: the same totals
        assert nearby_answered(get_text(f"{base}/metrics", **auth), "200") == 21
    separate = get_text(f"http://127.0.0.1:{metrics_port}/metrics")
    assert nearby_answered(separate, "200") == 21 and nearby_answered(separate, "400") == 1
    assert "nearby_dispatch_redis_up 1.0" in separate
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        worker = get_text(f"http://127.0.0.1:{worker_port}/metrics")
        if 'nearby_dispatch_worker_replans_total{outcome="ok"}' in worker:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the dispatcher worker showed no re-plan")
    assert "nearby_dispatch_worker_leases_held" in worker


def http_error(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """The status and JSON body of a request that must be refused (an HTML page fails here)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5):
            raise AssertionError(f"{url[:80]} was accepted")
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"].startswith("application/json"), error.headers
        return error.code, json.loads(error.read())


def test_run_command_serves_the_demo(redis_url: str, redis_client: redis.Redis) -> None:
    """scripts/run imports the demo into an empty Redis and answers nearby queries over HTTP;
    over-long URLs and headers get JSON errors, never gunicorn's HTML page."""
    port, metrics_port, worker_port = _free_port(), _free_port(), _free_port()
    env = os.environ | {"REDIS_URL": redis_url, "PORT": str(port), "WORKERS": "2",
                        "METRICS_TOKEN": SCRAPER, "METRICS_PORT": str(metrics_port),
                        "WORKER_METRICS_PORT": str(worker_port), "REPLAN_SECONDS": "1"}  # fmt: skip
    server = subprocess.Popen(
        ["bash", str(PROJECT_ROOT / "scripts" / "run")],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = get_json(f"{base}/readyz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # still starting
                time.sleep(0.3)
        assert health is not None, "the service did not come up"
        assert health["checks"]["catalogue"]["stores"] == 46
        body = get_json(f"{base}/api/v1/stores/nearby?lat=24.18520&lng=120.61264&radius_m=500")
        assert body["stores"][0]["id"] == "osm-way-617553270"
        assert body["stores"][0]["name"].startswith("7-Eleven")
        try:
            get_json(f"{base}/api/v1/stores/nearby?lat=91&lng=0")
            raise AssertionError("lat=91 was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 400
            assert json.loads(error.read())["error"]["details"]["fields"]["lat"]
        _figures_add_up_across_workers(base, metrics_port, worker_port)
        for length in (5_000, 9_000, 20_000):  # past gunicorn's default, and its bound
            answer = http_error(f"{base}/api/v1/stores/nearby?lat=24.1&lng=120.6&x={'a' * length}")
            assert answer[0] in (400, 414) and set(answer[1]["error"]) == {
                "code", "message", "details"}, (length, answer)  # fmt: skip
        status, body = http_error(f"{base}/healthz", headers={"X-Big": "b" * 10_000})
        assert status in (400, 431) and body["error"]["code"], body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    assert f"serving on http://127.0.0.1:{port}/" in output
    assert "catalogue v" in output
    assert "re-plan every" in output  # the dispatcher worker started beside the web server
