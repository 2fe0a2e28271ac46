"""The OpenAPI document and the docs page describe what the API really does."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dispatch.settings import PROJECT_ROOT
from dispatch.worker import WorkerMetrics


def test_openapi_lists_every_api_route(app: Flask, client: FlaskClient) -> None:
    """Each /api/v1 route of the app appears in the document, and nothing that is not there."""
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
    }
    assert routes == {p for p in doc["paths"] if p.startswith("/api/v1")}


def test_documented_nearby_parameters_are_accepted(shop: FlaskClient) -> None:
    """Every documented parameter of nearby is one the endpoint knows (none is refused)."""
    doc = shop.get("/api/openapi.json").get_json()
    names = [p["name"] for p in doc["paths"]["/api/v1/stores/nearby"]["get"]["parameters"]]
    sample = {
        "lat": "24.18",
        "lng": "120.6",
        "radius_m": "100",
        "limit": "5",
        "kind": "convenience",
        "brand": "7-eleven",
        "partner": "true",
        "open_now": "true",
        "at": "2026-11-18T12:00:00Z",
        "sku": "water-600ml",
        "delivers_to": "24.18,120.6",
    }
    assert set(names) == set(sample)
    assert shop.get("/api/v1/stores/nearby", query_string=sample).status_code == 200


def test_docs_page_is_html(client: FlaskClient) -> None:
    """The human-readable page lists the endpoints."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "/api/v1/stores/nearby" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/docs"])
def test_the_home_and_docs_pages_load_without_a_console_error(
    served: str, browser: Browser, path: str
) -> None:
    """No request of theirs fails (a browser asked for /favicon.ico, a 404 in the console)."""
    context = browser.new_context()  # a fresh one: no icon remembered from another page
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    page.goto(served + path)
    page.wait_for_load_state("networkidle")
    assert errors == []
    context.close()


def exported_names(text: str) -> set[str]:
    """Every name a scrape shows: its families' and their samples' (``_total``, ``_bucket``)."""
    families = list(text_string_to_metric_families(text))
    return {f.name for f in families} | {
        f"{f.name}{suffix}"
        for f in families
        for suffix in {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(
            f.type, ()
        )
    }


def test_the_alerts_and_the_dashboard_use_only_exported_figures(client: FlaskClient) -> None:
    """Every figure named in the operations guide (its table, alerts and their PromQL) and in the
    Grafana dashboard's queries is one the service or the dispatcher worker exports, and every
    figure exported is in the guide's table."""
    scrape = client.get("/metrics").get_data(as_text=True)
    worker = generate_latest(WorkerMetrics.create().registry).decode()
    exported = exported_names(scrape) | exported_names(worker)
    guide = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    dashboard = json.loads((PROJECT_ROOT / "docs" / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) > 10
    figure = re.compile(r"\bnearby_dispatch_[a-z0-9_]+")
    in_guide = set(figure.findall(guide))
    in_dashboard = {name for query in queries for name in figure.findall(query)}
    assert in_guide - exported == set()
    assert in_dashboard - exported == set()
    alerts = guide.split("### Alerts", 1)[1]
    assert {"nearby_dispatch_plan_age_seconds", "nearby_dispatch_orders_refused_total",
            "nearby_dispatch_redis_errors_total"} <= set(figure.findall(alerts))  # fmt: skip
    families = {f.name for text in (scrape, worker) for f in text_string_to_metric_families(text)}
    table = {name.removesuffix("_total") for name in in_guide}
    assert families - table == set(), "exported but not in the guide's table"


def test_every_setting_the_service_reads_is_in_the_readme() -> None:
    """The configuration table names each variable the settings and scripts/run read."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") : readme.index("## API")]
    settings = (PROJECT_ROOT / "dispatch" / "settings.py").read_text(encoding="utf-8")
    run = (PROJECT_ROOT / "scripts" / "run").read_text(encoding="utf-8")
    read = set(re.findall(r'env\.get\("([A-Z_]+)"', settings))
    read |= set(re.findall(r"\$\{([A-Z_]+)[:-]", run))
    assert read >= {"REDIS_URL", "DEMO_CATALOGUE"}  # the patterns still find them
    assert sorted(name for name in read if f"`{name}`" not in table) == []
