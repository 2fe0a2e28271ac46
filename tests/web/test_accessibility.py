"""Both pages checked with axe-core in a real headless Chromium: no serious or critical finding."""

from __future__ import annotations

from typing import Any

import redis
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, expect

from dispatch.settings import PROJECT_ROOT
from tests.conftest import token_for
from tests.web.test_dispatcher_page import PHONE
from tests.web.test_orders_api import order_body

AXE = PROJECT_ROOT / "web" / "static" / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document);
  return {passes: result.passes.length, violations: result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`)}))};
}"""


def serious_findings(page: Page, served: str) -> list[dict[str, Any]]:
    assert AXE.exists(), "axe-core is needed (scripts/fetch_web_assets.py installs it)"
    page.add_script_tag(url=f"{served}/static/vendor/axe-core/axe.min.js")
    found: dict[str, Any] = page.evaluate(RUN_AXE)
    assert found["passes"] > 10  # the rules did run on the page
    return [v for v in found["violations"] if v["impact"] in ("serious", "critical")]


def test_the_dispatcher_page_has_no_serious_findings(
    day: tuple[FlaskClient, list[str]], served: str, browser: Browser, redis_client: redis.Redis
) -> None:
    """On a desktop and on a phone, with orders, routes and couriers on the map."""
    day[0].post("/api/v1/dispatch/replan")
    for viewport in ({"width": 1400, "height": 850}, PHONE):
        page = browser.new_page(viewport=viewport)
        page.goto(f"{served}/dispatcher?token={token_for(redis_client, 'dispatcher')}")
        expect(page.locator("#live")).to_have_text("live")
        assert serious_findings(page, served) == []
        page.close()


def test_the_tracking_page_has_no_serious_findings(
    shop: FlaskClient, served: str, browser: Browser
) -> None:
    """In English and in Traditional Chinese."""
    placed = shop.post("/api/v1/orders", json=order_body("AX-1")).get_json()
    for locale in ("en-US", "zh-TW"):
        context = browser.new_context(locale=locale, viewport=PHONE)
        page = context.new_page()
        page.goto(served + placed["tracking"]["page"])
        expect(page.locator("#code")).to_have_text(placed["tracking"]["delivery_code"])
        assert serious_findings(page, served) == []
        context.close()
