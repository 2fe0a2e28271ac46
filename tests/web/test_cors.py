"""Cross-origin reads: only the public API's answers say any origin may read them."""

from __future__ import annotations

import redis
from flask import Flask, url_for
from flask.testing import FlaskClient

from tests.conftest import bearer, token_for
from tests.web.test_orders_api import FULIN
from web.limits import is_public

ANY_ORIGIN = "Access-Control-Allow-Origin"


def test_a_stores_own_orders_are_not_readable_from_any_origin(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Staff routes under the public /api/v1/stores (a store's orders, figures and stock) answer
    their own caller without the public CORS header; the store itself keeps it."""
    staff = bearer(token_for(redis_client, "store", FULIN))
    for tail in ("/orders", "/stats", "/stock"):
        answer = shop.get(f"/api/v1/stores/{FULIN}{tail}", headers=staff)
        assert answer.status_code == 200, tail
        assert ANY_ORIGIN not in answer.headers, tail
    assert shop.get(f"/api/v1/stores/{FULIN}").headers[ANY_ORIGIN] == "*"


def test_public_is_what_needs_no_token_and_what_the_document_says(
    app: Flask, shop: FlaskClient
) -> None:
    """Every route under /api/v1, called without a token: a public one is not a 401, says any
    origin may read its GET answer and needs no token in the OpenAPI document; every other one
    is a 401 without the header and asks for a bearer token there."""
    document = shop.get("/api/openapi.json").get_json()["paths"]
    anonymous = {"Authorization": ""}
    seen = {True: 0, False: 0}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **dict.fromkeys(rule.arguments, "x"))
        public = is_public(app.view_functions[rule.endpoint])
        path = rule.rule.replace("<order_id:order_id>", "<order_id>")
        path = path.replace("<", "{").replace(">", "}")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = shop.open(url, method=method, headers=anonymous, buffered=False)
            answer.close()
            assert (answer.status_code != 401) == public, (method, rule.rule, answer.status_code)
            readable = answer.headers.get(ANY_ORIGIN) == "*"
            assert readable == (public and method == "GET"), (method, rule.rule)
            security = document[path][method.lower()]["security"]
            assert (security == []) == public, (method, rule.rule, security)
            seen[public] += 1
    assert seen[True] >= 8 and seen[False] >= 20
