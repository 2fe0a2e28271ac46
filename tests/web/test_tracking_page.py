"""The shoppers' tracking page in a real headless Chromium: map, items, arrival, steps, cancel,
in English or Traditional Chinese."""

from __future__ import annotations

import os
import re
from dataclasses import replace

import redis
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect

from dispatch.storage.catalogue import save_catalogue
from geo.stores import Store
from tests.web.conftest import courier_body
from tests.web.test_dispatcher_page import hostile
from tests.web.test_orders_api import order_body
from web.tracking import tracking_token


def test_the_page_shows_the_map_items_and_arrival_and_cancels(
    shop: FlaskClient, street_app: Flask, street_served: str, browser: Browser
) -> None:
    """A fresh order: the street map with the store and the destination, the items, the store's
    address, the arrival as a time (the store's zone) and in minutes, the steps; then cancel."""
    placed = shop.post("/api/v1/orders", json=order_body("TP-1")).get_json()
    shop.post("/api/v1/couriers", json=courier_body("k1"))
    street_app.test_client().post("/api/v1/dispatch/replan")
    page = browser.new_page(viewport={"width": 400, "height": 900}, timezone_id="Europe/Paris")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(street_served + placed["tracking"]["page"])

    expect(page.locator("#status")).to_have_text("Order received")
    expect(page.locator("#map")).to_have_attribute("data-streets", re.compile(r"^[1-9]\d+$"))
    expect(page.locator("#map .store-marker")).to_be_visible()
    expect(page.locator("#map .home-marker")).to_be_visible()
    attribution = page.locator(".leaflet-control-attribution")
    expect(attribution).to_contain_text("OpenStreetMap contributors")
    expect(page.locator("#items li")).to_have_text(["Mineral water 600 ml × 1"])
    expect(page.locator("#store-address")).not_to_be_empty()
    arrival = re.compile(r"^\d\d:\d\d \((in \d+ min|any minute now)\)$")
    expect(page.locator("#eta")).to_have_text(arrival)
    expect(page.locator("#promised")).to_have_text("04:00")  # Taipei, not Paris
    expect(page.locator("#steps li")).to_have_count(5)
    expect(page.locator("#steps li.done")).to_have_count(1)
    expect(page.locator("#code")).to_have_text(placed["tracking"]["delivery_code"])
    if os.environ.get("TRACKING_SCREENSHOT"):
        page.wait_for_timeout(500)
        page.screenshot(path=os.environ["TRACKING_SCREENSHOT"], full_page=True)

    page.click("#cancel-start")
    page.click("#cancel-yes")
    expect(page.locator("#status")).to_have_text("Cancelled")
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#message")).to_have_text("Your order is cancelled.")
    expect(page.locator("#courier")).to_have_text("—")  # neither "assigned" nor "not yet"
    order = shop.get(f"/api/v1/orders/{placed['order']['id']}").get_json()["order"]
    assert order["status"] == "cancelled"
    assert errors == []
    page.close()


def test_the_courier_moves_on_the_map_and_cancel_goes_once_preparing(
    day: tuple[FlaskClient, list[str]], served: str, browser: Browser
) -> None:
    """Once the order is on its way the courier's marker appears and follows its pings; an order
    the store has started has no cancel button."""
    shop, _ = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    courier, order_id = next((r["courier_id"], r["stops"][0]["order_id"])
                             for r in plan["routes"] if r["stops"])  # fmt: skip
    with shop.application.app_context():  # the link the order's answer gave, made again
        page_url = f"{served}/track/{tracking_token(order_id)}"
    shop.post(f"/api/v1/orders/{order_id}/status", json={"status": "preparing"})
    page = browser.new_page()
    page.goto(page_url)
    expect(page.locator("#status")).to_have_text("Being prepared")
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#map .courier-marker")).to_have_count(0)
    shop.post(f"/api/v1/orders/{order_id}/status", json={"status": "picked_up"})
    shop.post(f"/api/v1/couriers/{courier}/position", json={"lat": 24.1830, "lng": 120.6000})
    page.evaluate("refresh()")
    marker = page.locator("#map .courier-marker")
    expect(marker).to_be_visible()
    expect(page.locator("#status")).to_have_text("On the way")
    before = marker.get_attribute("style")  # Leaflet places a marker by its transform
    shop.post(f"/api/v1/couriers/{courier}/position", json={"lat": 24.1845, "lng": 120.6030})
    page.evaluate("refresh()")
    expect(marker).not_to_have_attribute("style", before or "")
    page.close()


def test_a_chinese_browser_reads_traditional_chinese(
    shop: FlaskClient, served: str, browser: Browser
) -> None:
    """A zh-TW browser gets the page in Traditional Chinese; an English one in English."""
    placed = shop.post("/api/v1/orders", json=order_body("TP-2")).get_json()
    context = browser.new_context(locale="zh-TW")
    page = context.new_page()
    page.goto(served + placed["tracking"]["page"])
    expect(page.locator("#status")).to_have_text("已收到訂單")
    expect(page.locator("h1")).to_have_text("您的訂單")
    expect(page.locator("#cancel-start")).to_have_text("取消訂單")
    assert page.evaluate("document.documentElement.lang") == "zh-TW"
    context.close()
    english = browser.new_context(locale="en-GB")
    page = english.new_page()
    page.goto(served + placed["tracking"]["page"])
    expect(page.locator("#status")).to_have_text("Order received")
    english.close()


def test_names_on_the_tracking_page_are_text(
    shop: FlaskClient, served: str, browser: Browser, redis_client: redis.Redis,
    demo_stores: list[Store],
) -> None:  # fmt: skip
    """A store's name and address with markup are shown literally, in the page and the map."""
    placed = shop.post("/api/v1/orders", json=order_body("TP-3")).get_json()
    named = [replace(s, name=hostile("store"), address=hostile("street"))
             if s.id == placed["order"]["store_id"] else s for s in demo_stores]  # fmt: skip
    save_catalogue(redis_client, named, source="demo")
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(served + placed["tracking"]["page"])
    expect(page.locator("#store")).to_have_text(hostile("store"))
    expect(page.locator("#store-address")).to_have_text(hostile("street"))
    page.evaluate("markers.store.openTooltip()")
    expect(page.locator(".leaflet-tooltip")).to_contain_text(hostile("store"))
    assert page.locator("img[src*='xss-']").count() == 0
    assert [url for url in requested if "xss" in url] == []
    assert page.evaluate("window.__xss") is None
    page.close()


def test_a_ready_pick_up_shows_the_counter_and_the_code(
    shop: FlaskClient, served: str, browser: Browser
) -> None:
    """A pick-up order once ready: "Ready for pick-up", the store's address, the time it is
    kept until, the pick-up code, four steps, no courier."""
    placed = shop.post("/api/v1/orders", json=order_body("TP-P", fulfilment="pickup")).get_json()
    order_id = placed["order"]["id"]
    assert (
        shop.post(f"/api/v1/orders/{order_id}/status", json={"status": "ready"}).status_code == 200
    )
    page = browser.new_page(viewport={"width": 400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served + placed["tracking"]["page"])
    expect(page.locator("#status")).to_have_text("Ready for pick-up")
    expect(page.locator("#eta-label")).to_have_text("Collect by")
    expect(page.locator("#eta")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(page.locator("#code-label")).to_have_text("Pick-up code (show it at the counter)")
    expect(page.locator("#code")).to_have_text(placed["tracking"]["delivery_code"])
    expect(page.locator("#store-address")).not_to_be_empty()
    expect(page.locator("#steps li")).to_have_count(4)
    expect(page.locator("#steps li.done")).to_have_count(3)
    expect(page.locator("#courier")).to_have_text("—")
    assert errors == []


def test_the_page_shows_a_scheduled_orders_window(
    shop: FlaskClient, served: str, browser: Browser
) -> None:
    """An order for tomorrow 10:00 in Taipei: "tomorrow 09:45–10:15" on the store's clock; an
    order for now shows no such row."""
    body = order_body("TP-S", deliver_at="2026-11-23T10:00:00+08:00")
    scheduled = shop.post("/api/v1/orders", json=body).get_json()
    asap = shop.post("/api/v1/orders", json=order_body("TP-N")).get_json()
    page = browser.new_page(timezone_id="Europe/Paris", locale="en-GB")
    page.goto(served + scheduled["tracking"]["page"])
    expect(page.locator("#scheduled")).to_have_text("tomorrow 09:45–10:15")
    expect(page.locator("#promised")).to_have_text("10:15")
    page.goto(served + asap["tracking"]["page"])
    expect(page.locator("#status")).to_have_text("Order received")
    expect(page.locator("#scheduled-row")).to_be_hidden()
    page.close()


def test_an_order_with_beer_asks_for_an_id(
    shop: FlaskClient, served: str, browser: Browser
) -> None:
    """Beer: the page says to have an ID ready (and the API says id_check_required); water: no
    such line."""
    items = [{"sku": "beer-330ml", "qty": 1}]
    beer = shop.post("/api/v1/orders", json=order_body("TP-ID", items=items)).get_json()
    water = shop.post("/api/v1/orders", json=order_body("TP-W")).get_json()
    assert shop.get(beer["tracking"]["api"]).get_json()["order"]["id_check_required"] is True
    assert shop.get(water["tracking"]["api"]).get_json()["order"]["id_check_required"] is False
    page = browser.new_page(locale="en-GB")
    page.goto(served + beer["tracking"]["page"])
    expect(page.locator("#id-notice")).to_be_visible()
    expect(page.locator("#id-notice")).to_contain_text("have an ID ready")
    page.goto(served + water["tracking"]["page"])
    expect(page.locator("#status")).to_have_text("Order received")
    expect(page.locator("#id-notice")).to_be_hidden()
    page.close()
