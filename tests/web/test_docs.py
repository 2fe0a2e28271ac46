"""The OpenAPI document and the docs page describe what the API really does."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient


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
    }
    assert set(names) == set(sample)
    assert shop.get("/api/v1/stores/nearby", query_string=sample).status_code == 200


def test_docs_page_is_html(client: FlaskClient) -> None:
    """The human-readable page lists the endpoints."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "/api/v1/stores/nearby" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200
