"""The dispatcher page in a real headless Chromium: map, couriers, routes, and a reassignment."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect, sync_playwright
from werkzeug.serving import make_server

from geo.stores import Store
from tests.conftest import token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body
from web.catalogue_store import save_catalogue

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# flags that keep Chromium from reaching for the network this machine does not have
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert os.path.exists(CHROMIUM), "Chromium is needed (scripts/test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def routes_by_order(plan: dict[str, Any]) -> dict[str, str]:
    return {s["order_id"]: r["courier_id"] for r in plan["routes"] for s in r["stops"]}


def test_the_page_shows_the_day_and_a_reassignment_reaches_the_plan(
    day: tuple[FlaskClient, list[str]], served: str, browser: Browser, redis_client: redis.Redis
) -> None:
    shop, ids = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    busy = [r for r in plan["routes"] if r["stops"]]
    token = token_for(redis_client, "dispatcher")
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served}/dispatcher?token={token}")

    expect(page.locator(".courier-marker")).to_have_count(3)
    expect(page.locator("path.route-line")).to_have_count(len(busy))
    expect(page.locator("path.order-dot")).to_have_count(len(ids))
    expect(page.locator("[data-kpi='Open orders'] b")).to_have_text(str(len(ids)))
    expect(page.locator("#live")).to_have_text("live")
    for route in busy:
        stops = page.locator(f"[data-courier='{route['courier_id']}'] li")
        expect(stops).to_have_count(len(route["stops"]))

    # move one order to a courier that does not have it, on the page
    order_id, holder = next(iter(routes_by_order(plan).items()))
    target = next(c for c in ("c0", "c1", "c2") if c != holder)
    page.select_option("#reassign-order", order_id)
    page.select_option("#reassign-courier", target)
    page.click("#reassign button[type=submit]")
    expect(page.locator("#action-result")).to_contain_text(f"pinned to {target}")
    after = shop.get("/api/v1/dispatch/plan").get_json()["plan"]
    assert routes_by_order(after)[order_id] == target
    # the live feed brings the new plan without a reload
    expect(page.locator("[data-kpi='Plan'] b")).to_have_text(f"v{after['version']}")
    # a pin no plan could keep is refused on the page with its reason, and changes nothing
    walker = {"id": "slow", "vehicle": "walk", "home": {"lat": 24.26, "lng": 120.68}}
    shop.post("/api/v1/couriers", json=courier_body("slow") | walker)
    page.reload()
    page.select_option("#reassign-order", order_id)
    page.select_option("#reassign-courier", "slow")
    page.click("#reassign button[type=submit]")
    expect(page.locator("#action-result")).to_contain_text("Could not reassign: courier slow")
    assert routes_by_order(shop.get("/api/v1/dispatch/plan").get_json()["plan"])[order_id] == target
    if os.environ.get("DISPATCHER_SCREENSHOT"):
        page.screenshot(path=os.environ["DISPATCHER_SCREENSHOT"])
    assert errors == []
    page.close()


def test_without_a_token_the_page_asks_for_one(served: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{served}/dispatcher")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", "wrong")
    page.click("#login button")
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    page.close()


def test_the_tracking_page_follows_the_order(
    shop: FlaskClient, served: str, browser: Browser
) -> None:
    placed = shop.post("/api/v1/orders", json=order_body("T-1")).get_json()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(served + placed["tracking"]["page"])
    expect(page.locator("#status")).to_have_text("Order received")
    expect(page.locator("#code")).to_have_text(placed["tracking"]["delivery_code"])
    shop.post(f"/api/v1/orders/{placed['order']['id']}/status", json={"status": "preparing"})
    page.reload()
    expect(page.locator("#status")).to_have_text("Being prepared")
    assert errors == []
    page.close()


def hostile(field: str) -> str:
    """Markup that, read as HTML, fetches a same-origin image (the content policy allows it)
    and would run a script if the policy did not forbid inline handlers."""
    return f"<img src=/xss-{field}.png onerror=window.__xss='{field}'>"


def test_text_from_data_is_shown_as_text_never_as_markup(
    shop: FlaskClient, served: str, browser: Browser, redis_client: redis.Redis,
    demo_stores: list[Store],
) -> None:  # fmt: skip
    """A courier's name, a store's name, an order's address and note shown literally, in the
    side panel, popups and tooltips: no element made of them, no request for their image."""
    body = order_body("X-1", address=hostile("address"), note=hostile("note"))
    placed = shop.post("/api/v1/orders", json=body).get_json()["order"]
    named = [replace(s, name=hostile("store")) if s.id == placed["store_id"] else s
             for s in demo_stores]  # fmt: skip
    save_catalogue(redis_client, named, source="demo")
    courier = courier_body("cx", name=hostile("name"))
    assert shop.post("/api/v1/couriers", json=courier).status_code == 201
    shop.post("/api/v1/dispatch/replan")
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")

    expect(page.locator("[data-courier='cx'] b")).to_contain_text(hostile("name"))
    page.click(".courier-marker")
    expect(page.locator(".leaflet-popup-content")).to_contain_text(hostile("name"))
    page.click("path.order-dot", force=True)
    popup = page.locator(".leaflet-popup-content", has_text=placed["id"])
    expect(popup).to_contain_text(hostile("address"))
    expect(popup).to_contain_text(hostile("note"))
    # every store's tooltip at once, through Leaflet's own API (hovering 2,000 dots would not do)
    page.evaluate("layers.stores.eachLayer((marker) => marker.openTooltip())")
    expect(page.locator(".leaflet-tooltip", has_text=hostile("store"))).to_have_count(1)

    assert page.locator("img[src^='/xss'], img[src*='xss-']").count() == 0
    assert [url for url in requested if "xss" in url] == []
    assert page.evaluate("window.__xss") is None
    assert errors == []
    page.close()
