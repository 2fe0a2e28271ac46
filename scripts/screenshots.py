#!/usr/bin/env python3
"""Screenshots of the running pages for the README, in headless Chromium.

    scripts/run &  python scripts/demo_walkthrough.py --url http://127.0.0.1:8000 --orders 30
    python scripts/screenshots.py --url http://127.0.0.1:8000 --token <dispatcher token> \\
        --track /track/<tracking token>

Writes docs/dispatcher.png (desktop), docs/dispatcher-phone.png and docs/tracking.png (a
phone-sized window; --locale zh-TW for the Chinese page).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a dispatcher token")
    parser.add_argument("--track", required=True, help="a tracking page's path, /track/...")
    parser.add_argument("--locale", default="en-US", help="the tracking page's browser language")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    dispatcher = f"{args.url}/dispatcher?token={args.token}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for name, viewport in (("dispatcher", {"width": 1400, "height": 850}),
                               ("dispatcher-phone", {"width": 390, "height": 844})):  # fmt: skip
            page = browser.new_page(viewport=viewport)
            page.goto(dispatcher)
            expect(page.locator("#live")).to_have_text("live", timeout=20_000)
            page.wait_for_timeout(1_500)  # the street canvas and the markers settle
            page.screenshot(path=args.out / f"{name}.png")
            page.close()
        context = browser.new_context(locale=args.locale, viewport={"width": 420, "height": 900})
        page = context.new_page()
        page.goto(args.url + args.track)
        expect(page.locator("#code")).not_to_have_text("…", timeout=20_000)
        page.wait_for_timeout(1_500)
        page.screenshot(path=args.out / "tracking.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
