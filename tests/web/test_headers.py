"""The headers every answer carries, and the public answers' CORS header."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.web.test_limits import NEARBY


def test_pages_and_public_answers_carry_their_headers(shop: FlaskClient) -> None:
    page = shop.get("/dispatcher")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert shop.get(NEARBY).headers["Access-Control-Allow-Origin"] == "*"
    plan = shop.get("/api/v1/dispatch/plan")
    assert "Access-Control-Allow-Origin" not in plan.headers
    assert plan.headers["X-Content-Type-Options"] == "nosniff"
