"""The Prometheus figures: they move as orders are placed, refused and delivered; who reads them."""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from dispatch.settings import Settings
from dispatch.storage import leases
from dispatch.storage.catalogue import save_catalogue
from dispatch.worker import WorkerMetrics, replan_once
from geo.stores import Store
from geo.travel import StraightLineTravel
from tests.conftest import FIXED_NOW, bearer, make_app, token_for
from tests.web.test_courier_api import event, planned  # noqa: F401  (a fixture)
from tests.web.test_orders_api import order_body, place

P = "nearby_dispatch"
Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Figures:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: FlaskClient, **headers: str) -> Figures:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((f"{P}_{name}", frozenset(labels.items())), 0.0)


def test_placing_an_order_moves_the_figures(shop: FlaskClient) -> None:
    """An accepted order: counted by channel and fulfilment, open as accepted, its request
    counted under its route (not its raw path) and timed."""
    before = scrape(shop)
    response = place(shop, order_body("M-1"))
    assert response.status_code == 201
    order_id = response.get_json()["order"]["id"]
    assert shop.get(f"/api/v1/orders/{order_id}").status_code == 200
    replay = place(shop, order_body("M-1"))  # a retry is the same order: not counted again
    assert replay.headers["Idempotent-Replayed"] == "true"
    after = scrape(shop)
    accepted = {"channel": "app", "fulfilment": "delivery"}
    assert value(after, "orders_accepted_total", **accepted) == (
        value(before, "orders_accepted_total", **accepted) + 1
    )
    assert value(after, "open_orders", status="accepted") == 1
    assert value(before, "open_orders", status="accepted") == 0
    post = {"route": "/api/v1/orders", "method": "POST", "status": "201"}
    assert value(after, "http_requests_total", **post) == 2
    track = {"route": "/api/v1/orders/<order_id:order_id>", "method": "GET", "status": "200"}
    assert value(after, "http_requests_total", **track) == 1
    timed = {"route": "/api/v1/orders", "method": "POST"}
    assert value(after, "http_request_duration_seconds_count", **timed) == 2
    assert value(after, "http_request_duration_seconds_sum", **timed) > 0
    assert value(after, "orders_unassigned") == 1  # no plan yet delivers it
    assert value(after, "redis_up") == 1


def test_orders_count_by_fulfilment(shop: FlaskClient) -> None:
    """A walk-in for pick-up counts as pickup, a delivery as delivery, refusals likewise."""
    store = "osm-way-617553270"
    body = order_body("W-1", channel="store", store_id=store, fulfilment="pickup")
    assert place(shop, body).status_code == 201
    assert place(shop, order_body("W-2", channel="store", store_id=store)).status_code == 201
    far = order_body("W-3", lat=25.03, lng=121.56, fulfilment="pickup")  # no store in reach
    assert place(shop, far).status_code == 422
    figures = scrape(shop)
    assert value(figures, "orders_accepted_total", channel="store", fulfilment="pickup") == 1
    assert value(figures, "orders_accepted_total", channel="store", fulfilment="delivery") == 1
    refused = {"channel": "app", "fulfilment": "pickup", "reason": "no_store_in_reach"}
    assert value(figures, "orders_refused_total", **refused) == 1


def test_refusals_are_counted_by_reason(
    shop: FlaskClient, redis_client: redis.Redis, demo_stores: list[Store]
) -> None:
    """Unknown goods, nowhere near a store, and stores too slow for the promise: each refusal
    under its own reason; a retry's conflict is no refusal."""
    assert place(shop, order_body("U-1", items=[{"sku": "caviar", "qty": 1}])).status_code == 422
    far = order_body("F-1", lat=25.03, lng=121.56)  # Taipei: no partner store within reach
    assert place(shop, far).status_code == 422
    assert place(shop, order_body("C-1")).status_code == 201
    assert place(shop, order_body("C-1", note="other")).status_code == 409
    slow = [replace(store, prep_time_s=3300) for store in demo_stores]  # no hour left to ride
    save_catalogue(redis_client, slow, source="slow kitchens")
    refused = place(shop, order_body("S-1"))
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "no_store_can_fulfil"
    figures = scrape(shop)
    by_reason = {
        dict(labels)["reason"]: count
        for (name, labels), count in figures.items()
        if name == f"{P}_orders_refused_total"
    }
    assert by_reason == {"unknown_sku": 1, "no_store_in_reach": 1, "too_far_for_promise": 1}
    assert value(figures, "orders_accepted_total", channel="app", fulfilment="delivery") == 1


def test_batch_intake_is_counted_per_order(shop: FlaskClient) -> None:
    """Bulk intake counts each order it accepts or refuses."""
    orders = [order_body("B-1"), order_body("B-2", items=[{"sku": "caviar", "qty": 1}])]
    answer = shop.post("/api/v1/orders/batch", json={"orders": orders}).get_json()
    assert answer["accepted"] == 1
    figures = scrape(shop)
    assert value(figures, "orders_accepted_total", channel="app", fulfilment="delivery") == 1
    assert (
        value(figures, "orders_refused_total", channel="app", fulfilment="delivery",
              reason="unknown_sku") == 1
    )  # fmt: skip


def test_a_delivery_moves_the_figures(planned: dict[str, Any]) -> None:  # noqa: F811
    """A courier's pick-up and delivery: counted as status changes and an on-time delivery;
    the plan's age, solve time and version are shown for its region."""
    shop, me, order_id = planned["shop"], planned["me"], planned["orders"][0]
    before = scrape(shop)
    assert value(before, "plan_version", region="all") == planned["plan"]["version"]
    assert value(before, "plan_solve_seconds", region="all") == planned["plan"]["solve_s"]
    assert value(before, "plan_age_seconds", region="all") >= 0
    assert value(before, "open_orders", status="accepted") == 8
    assert event(shop, me, event_id="p", order_id=order_id, type="picked_up").status_code == 200
    delivered = event(shop, me, event_id="d", order_id=order_id, type="delivered",
                      proof={"photo_ref": "door.jpg"})  # fmt: skip
    assert delivered.status_code == 200
    after = scrape(shop)
    assert value(after, "orders_delivered_total", on_time="true") == 1
    assert value(before, "orders_delivered_total", on_time="true") == 0
    assert value(after, "order_status_changes_total", status="delivered") == 1
    assert value(after, "order_status_changes_total", status="picked_up") == 1
    assert value(after, "open_orders", status="accepted") == 7
    assert value(after, "open_orders", status="picked_up") == 0  # delivered: no longer open


def test_a_late_delivery_is_counted_late(shop: FlaskClient, settings: Settings,
                                         redis_client: redis.Redis) -> None:  # fmt: skip
    """Delivered after its promise: counted not on time; open past it: counted late."""
    order = place(shop, order_body("L-1")).get_json()["order"]
    second = place(shop, order_body("L-2")).get_json()["order"]
    later = make_app(settings, redis_client, clock=lambda: FIXED_NOW + timedelta(hours=2))
    client = later.test_client()
    for status in ("preparing", "ready", "picked_up", "delivered"):
        moved = client.post(f"/api/v1/orders/{order['id']}/status", json={"status": status})
        assert moved.status_code == 200, moved.get_json()
    figures = scrape(client)
    assert value(figures, "orders_delivered_total", on_time="false") == 1
    assert value(figures, "orders_late") == 1  # the second, still open two hours on
    assert second["id"]


def test_nearby_queries_are_timed(shop: FlaskClient) -> None:
    """Each nearby query is observed by the nearby latency histogram."""
    for _ in range(3):
        assert shop.get("/api/v1/stores/nearby?lat=24.18&lng=120.6").status_code == 200
    figures = scrape(shop)
    assert value(figures, "nearby_query_duration_seconds_count") == 3
    assert value(figures, "nearby_query_duration_seconds_bucket", le="+Inf") == 3


def test_metrics_refuse_anonymous_callers(app: Flask, redis_client: redis.Redis) -> None:
    """No token: 401; a token of another role: 403; an admin token: the figures."""
    client = app.test_client()
    anonymous = client.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "unauthorized"
    shopper = client.get("/metrics", headers=bearer(token_for(redis_client, "shopper", "s1")))
    assert shopper.status_code == 403 and shopper.get_json()["error"]["code"] == "forbidden"
    dispatcher = client.get("/metrics", headers=bearer(token_for(redis_client, "dispatcher")))
    assert dispatcher.status_code == 403
    assert client.get("/metrics").status_code == 200  # the test client's admin token
    assert client.get("/metrics?format=json").status_code == 400
    # as on every route that needs a token: who may ask first, then what was asked
    stranger = client.get("/metrics?format=json", headers={"Authorization": ""})
    assert stranger.status_code == 401


def test_a_scrapers_own_token_works_while_redis_is_down(
    settings: Settings, redis_client: redis.Redis, demo_stores: list[Store], tmp_path: Path
) -> None:
    """METRICS_TOKEN opens the figures without asking Redis; with Redis away the scrape still
    answers, with redis_up 0 and the error counted."""
    save_catalogue(redis_client, demo_stores, source="demo")
    scraper = "s3cret-scraper-token"
    app = make_app(replace(settings, metrics_token=scraper), redis_client)
    client = app.test_client()
    assert client.get("/metrics", headers=bearer("wrong")).status_code == 401
    assert value(scrape(client, **bearer(scraper)), "redis_up") == 1
    away = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    app.extensions["redis"] = away
    figures = scrape(client, **bearer(scraper))
    assert value(figures, "redis_up") == 0
    assert value(figures, "redis_errors_total") >= 1
    assert ("nearby_dispatch_open_orders", frozenset({("status", "accepted")})) not in figures
    nearby = client.get("/api/v1/stores/nearby?lat=24.18&lng=120.6&sku=water-600ml")
    assert nearby.status_code == 503
    assert value(scrape(client, **bearer(scraper)), "redis_errors_total") >= 3


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz"])
def test_operator_routes_refuse_unknown_parameters(client: FlaskClient, path: str) -> None:
    """Like every route: an unknown query parameter is a 400 naming it."""
    response = client.get(f"{path}?verbose=1")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["unknown"] == ["verbose"]


def test_the_dispatcher_worker_serves_its_own_figures(
    app: Flask, day: tuple[FlaskClient, list[str]], redis_client: redis.Redis
) -> None:
    """The worker's port: leases held, re-plans by outcome, solve times per region, and a
    re-plan that Redis failed counted as failed and as a Redis error."""
    metrics = WorkerMetrics.create()
    server, thread = metrics.serve(0, host="127.0.0.1")  # port 0: any free one
    try:
        index = app.extensions["catalogue"].index()

        def lease(region: str) -> bool:
            return leases.hold(redis_client, region, "w", 15)

        plan = replan_once(redis_client, store_of=index.get, travel=StraightLineTravel(),
                           now=FIXED_NOW, time_limit_s=0.3, metrics=metrics,
                           may_plan=lease)  # fmt: skip
        assert plan is not None
        away = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
        assert replan_once(away, store_of=index.get, travel=StraightLineTravel(),
                           now=FIXED_NOW, time_limit_s=0.3, metrics=metrics) is None  # fmt: skip
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            figures = parse(response.read().decode())
    finally:
        server.shutdown()
        thread.join(5)
    assert value(figures, "worker_leases_held") == 1
    assert value(figures, "worker_replans_total", outcome="ok") == 1
    assert value(figures, "worker_replans_total", outcome="failed") == 1
    assert value(figures, "redis_errors_total") == 1
    assert value(figures, "worker_solve_seconds_count", region="all") == 1
    last = value(figures, "worker_last_plan_timestamp_seconds", region="all")
    assert last == datetime.fromisoformat(plan.to_record()["planned_at"]).timestamp()
