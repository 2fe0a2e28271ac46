"""The dispatcher page in a real headless Chromium: map, couriers, routes, and a reassignment."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect

from dispatch.settings import Settings
from dispatch.storage.catalogue import save_catalogue
from geo.stores import Store
from tests.conftest import FIXED_NOW, make_app, token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body

PHONE = {"width": 390, "height": 844}


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
    assert page.url == f"{served}/dispatcher"  # the accepted token left the address bar
    for route in busy:
        stops = page.locator(f"[data-courier='{route['courier_id']}'] li")
        expect(stops).to_have_count(len(route["stops"]))
        expect(stops.first).to_contain_text("pick up at ")  # nothing is on board yet
        expect(stops.last).to_contain_text("deliver to ")

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
    listed = page.locator(f"#orders li[data-order='{placed['id']}']")
    expect(listed).to_contain_text(hostile("address"))
    expect(listed).to_contain_text(hostile("store"))
    page.click(".courier-marker")
    expect(page.locator(".leaflet-popup-content")).to_contain_text(hostile("name"))
    listed.click()  # opens the order's popup on the map (its dot may sit under a courier)
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


def street_pixels(page: Any) -> int:
    """How many pixels of the street canvas are painted."""
    return int(
        page.evaluate("""() => {
        const canvas = document.querySelector('.leaflet-streets-pane canvas');
        if (!canvas) { return 0; }
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { painted += 1; } }
        return painted;
    }""")
    )


def test_the_streets_draw_and_routes_follow_them(
    day: tuple[FlaskClient, list[str]], street_app: Flask, street_served: str, browser: Browser,
    redis_client: redis.Redis,
) -> None:  # fmt: skip
    """With no tile server the base map is the city's streets, and each courier's route is the
    street polyline of its legs, not straight lines between the stops."""
    shop = street_app.test_client()
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    busy = [r for r in plan["routes"] if r["stops"]]
    assert busy
    overview = shop.get("/api/v1/dispatch/overview").get_json()
    for courier in (c for c in overview["couriers"] if c["stops"]):
        legs = shop.get(f"/api/v1/courier/legs?courier_id={courier['id']}").get_json()["legs"]
        along = [legs[0]["route"][0]] + [p for leg in legs for p in leg["route"][1:]]
        assert courier["path"] == along  # the same way the courier's phone shows
        assert len(courier["path"]) > len(courier["stops"]) + 1  # street corners, not only stops
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{street_served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#map")).to_have_attribute("data-streets", re.compile(r"^[1-9]\d{2,}$"))
    expect(page.locator(".leaflet-control-attribution")).to_contain_text(
        "© OpenStreetMap contributors"
    )
    expect(page.locator(".leaflet-streets-pane canvas")).to_have_count(1)
    assert street_pixels(page) > 5_000
    expect(page.locator("path.route-line")).to_have_count(len(busy))
    drawn = page.locator("path.route-line").evaluate_all(
        "(paths) => paths.map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length)"
    )
    assert min(drawn) > 2
    if os.environ.get("DISPATCHER_SCREENSHOT"):
        page.wait_for_timeout(500)
        page.screenshot(path=os.environ["DISPATCHER_SCREENSHOT"])
    assert errors == []
    page.close()


@pytest.fixture
def late_order(shop: FlaskClient, settings: Settings, redis_client: redis.Redis) -> str:
    """An order taken 65 minutes before the others' clock: its promise has passed."""
    earlier = make_app(settings, redis_client, clock=lambda: FIXED_NOW - timedelta(minutes=65))
    body = order_body("LATE-1", lat=24.1835, lng=120.6045, address="台中市西屯區 遲到路 1號")
    placed = earlier.test_client().post("/api/v1/orders", json=body)
    assert placed.status_code == 201, placed.get_json()
    return str(placed.get_json()["order"]["id"])


def test_a_late_order_is_listed_first_with_an_alarm(
    day: tuple[FlaskClient, list[str]], late_order: str, served: str, browser: Browser,
    redis_client: redis.Redis,
) -> None:  # fmt: skip
    """Late and at-risk orders head the list, flagged, and an alarm counts them; each entry
    says store, address, items, promised time in the stores' zone and minutes late or left."""
    shop, ids = day
    shop.post("/api/v1/dispatch/replan")
    page = browser.new_page(viewport={"width": 1400, "height": 850}, timezone_id="Europe/Paris")
    page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")
    entries = page.locator("#orders li[data-order]")
    expect(entries).to_have_count(len(ids) + 1)
    first = entries.first
    expect(first).to_have_attribute("data-order", late_order)
    expect(first).to_have_class(re.compile(r"\blate\b"))
    expect(first).to_contain_text("⚠")
    expect(first).to_contain_text("min late")
    expect(first).to_contain_text("遲到路")
    expect(first).to_contain_text("1 item")
    # promised 02:55 in Taipei (FIXED_NOW is 03:00 there), whatever the browser's own zone
    expect(first).to_contain_text("promised 02:55")
    expect(first).to_contain_text("5 min late")
    expect(page.locator("#zone")).to_contain_text("Asia/Taipei")
    expect(page.locator("#alarm")).to_be_visible()
    expect(page.locator("#alarm")).to_contain_text("late")
    risks = entries.evaluate_all("(items) => items.map((li) => li.className)")
    order = {"late": 0, "at_risk": 1, "unassigned": 2, "on_track": 3}
    assert [order[r] for r in risks] == sorted(order[r] for r in risks)
    # the popup of the first order says the same
    first.click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text(late_order)
    expect(page.locator(".leaflet-popup-content")).to_contain_text("min late")
    # filters: by status and by courier
    shop.post(f"/api/v1/orders/{ids[0]}/status", json={"status": "preparing"})
    page.reload()
    page.select_option("#filter-status", "preparing")
    expect(entries).to_have_count(1)
    expect(entries.first).to_have_attribute("data-order", ids[0])
    page.select_option("#filter-status", "")
    page.select_option("#filter-courier", "-")
    expect(page.locator("#orders li.empty, #orders li.unassigned")).not_to_have_count(0)
    page.close()


def test_the_phone_layout_shows_the_map_and_the_panel_folds(
    day: tuple[FlaskClient, list[str]], served: str, browser: Browser, redis_client: redis.Redis
) -> None:
    """On a phone the map is on top and visible, the panel under it; hiding the panel gives the
    map the whole screen; a tablet keeps both side by side."""
    day[0].post("/api/v1/dispatch/replan")
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")
    expect(page.locator("#live")).to_have_text("live")
    box = page.locator("#map").bounding_box()
    assert box is not None and box["y"] == 0 and box["width"] >= PHONE["width"] - 1
    assert box["height"] > 0.45 * PHONE["height"]
    side = page.locator("#side").bounding_box()
    assert side is not None and side["y"] >= box["height"] - 1  # under the map, not over it
    expect(page.locator("path.order-dot").first).to_be_visible()
    page.click("#toggle-panel")
    expect(page.locator("#side")).to_be_hidden()
    full = page.locator("#map").bounding_box()
    assert full is not None and full["height"] >= PHONE["height"] - 1
    page.click("#toggle-panel")
    expect(page.locator("#side")).to_be_visible()
    page.set_viewport_size({"width": 1024, "height": 768})  # a tablet
    box, side = page.locator("#map").bounding_box(), page.locator("#side").bounding_box()
    assert box is not None and side is not None
    assert side["x"] >= box["x"] + box["width"] - 1 and box["width"] > 500
    page.close()


def test_a_wrong_token_and_a_lost_feed_are_said_plainly(
    served: str, browser: Browser, redis_client: redis.Redis
) -> None:
    """A shopper's token is refused with a reason (not left on "connecting…"); a live feed that
    drops says so and comes back by itself."""
    page = browser.new_page()
    page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'shopper', 'sh-1')}")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("not a dispatcher")
    expect(page.locator("#live")).not_to_have_text("connecting…")
    page.goto(f"{served}/dispatcher?token=revoked-or-made-up")
    expect(page.locator("#login-error")).to_contain_text("unknown, revoked or expired")

    page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")
    expect(page.locator("#live")).to_have_text("live")
    page.route("**/api/v1/dispatch/stream*", lambda route: route.abort())
    page.evaluate("openFeed()")  # the connection drops and cannot come back yet
    expect(page.locator("#feed-problem")).to_be_visible()
    expect(page.locator("#feed-problem")).to_contain_text("live feed was lost")
    page.unroute("**/api/v1/dispatch/stream*")
    expect(page.locator("#live")).to_have_text("live", timeout=20_000)
    expect(page.locator("#feed-problem")).to_be_hidden()
    page.close()


def test_orders_at_one_door_share_a_marker_with_their_count(
    shop: FlaskClient, served: str, browser: Browser, redis_client: redis.Redis
) -> None:
    """Three orders to one address are one marker saying 3, whose popup lists all three; the
    list still has each."""
    ids = [shop.post("/api/v1/orders", json=order_body(f"SAME-{i}")).get_json()["order"]["id"]
           for i in range(3)]  # fmt: skip
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")
    cluster = page.locator(".order-cluster")
    expect(cluster).to_have_count(1)
    expect(cluster).to_have_text("3")
    expect(page.locator("path.order-dot")).to_have_count(0)
    expect(page.locator("#orders li[data-order]")).to_have_count(3)
    cluster.click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("3 orders at this address")
    for order_id in ids:
        expect(popup).to_contain_text(order_id)
    page.close()
