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

from tests.conftest import _free_port
from web.settings import PROJECT_ROOT


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


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
    port = _free_port()
    env = os.environ | {"REDIS_URL": redis_url, "PORT": str(port), "WORKERS": "2"}
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
                health = get_json(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # still starting
                time.sleep(0.3)
        assert health is not None, "the service did not come up"
        assert health["stores"] == 46
        body = get_json(f"{base}/api/v1/stores/nearby?lat=24.18520&lng=120.61264&radius_m=500")
        assert body["stores"][0]["id"] == "osm-way-617553270"
        assert body["stores"][0]["name"].startswith("7-Eleven")
        try:
            get_json(f"{base}/api/v1/stores/nearby?lat=91&lng=0")
            raise AssertionError("lat=91 was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 400
            assert json.loads(error.read())["error"]["details"]["fields"]["lat"]
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
