#!/usr/bin/env python3
"""Play a demo day through the running service's HTTP API, as its people would.

    scripts/run &                                   # the service, with the demo data
    python scripts/demo_walkthrough.py --url http://127.0.0.1:8000

Issues tokens with the CLI (dispatcher, a shopper, store staff, the couriers), places a dozen
shopper orders around Xitun, Taichung, waits for the dispatcher worker's plan and times it, then
plays the courier of the first order through pick-up and delivery (store marks it ready, pings,
events with the shopper's delivery code) and reads the shopper's tracking link at each step.
Then a pick-up in store: the shopper chooses a store from the nearby list and orders for
pick-up under a QR campaign; the store prepares it and marks it ready, the tracking link says
"ready for pick-up" with the store's address and code, staff refuse a wrong code and hand it
over on the right one; the merchant's figures show the campaign and the pick-up;
then the shopper books an order for later, lists their own, orders again and cancels that.
Prints the dispatcher page's address (with its token) to watch it all on the map.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO_PRODUCTS = ROOT / "data" / "demo_products.csv"
CAMPAIGN = "QR-DEMO-WINTER"


def token(role: str, subject: str | None = None) -> str:
    command = [sys.executable, "-m", "flask", "--app", "app", "tokens", "issue", "--role", role]
    if subject:
        command += ["--subject", subject]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stdout.split()[-1]


class Api:
    def __init__(self, base: str, bearer: str | None) -> None:
        self.base, self.bearer = base.rstrip("/"), bearer

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--orders", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with DEMO_PRODUCTS.open(encoding="utf-8") as handle:
        skus = [row["sku"] for row in csv.DictReader(handle)][:8]  # everyday goods, widely stocked
    dispatcher = Api(args.url, token("dispatcher"))
    shopper = Api(args.url, token("shopper", "demo-shopper"))
    public = Api(args.url, None)
    print(f"dispatcher page: {args.url}/dispatcher?token={dispatcher.bearer}")

    before = (dispatcher.call("GET", "/api/v1/dispatch/plan")[1]["plan"] or {}).get("version")
    placed: list[dict[str, Any]] = []
    stamp = datetime.now(UTC).strftime("%H%M%S")
    for i in range(args.orders):
        body = {"channel": rng.choice(["app", "web", "wechat"]), "external_id": f"demo-{stamp}-{i}",
                "lat": round(rng.uniform(24.1790, 24.1885), 5),
                "lng": round(rng.uniform(120.5935, 120.6125), 5),
                "address": f"demo door {i}",
                "items": [{"sku": rng.choice(skus), "qty": 1}]}  # fmt: skip
        if i % 3 == 0:
            body["campaign"] = CAMPAIGN  # scanned from the campaign's QR poster
        status, answer = shopper.call("POST", "/api/v1/orders", body)
        if status != 201:
            print(f"order {i}: {status} {answer.get('error', {}).get('message')}")
            continue
        placed.append(answer)
    last_placed = time.monotonic()
    print(f"placed {len(placed)} orders")
    ids = {a["order"]["id"] for a in placed}
    plan: dict[str, Any] = {}
    while time.monotonic() - last_placed < 30:
        plan = dispatcher.call("GET", "/api/v1/dispatch/plan")[1]["plan"] or {}
        planned = {s["order_id"] for r in plan.get("routes", []) for s in r["stops"]}
        if plan.get("version") != before and ids <= planned | set(plan.get("unassigned", {})):
            break
        time.sleep(0.2)
    waited = time.monotonic() - last_placed
    late = plan.get("late_orders", {})
    print(
        f"plan v{plan.get('version')} {waited:.1f} s after the last order (solver "
        f"{plan.get('solve_s')} s): {len(ids & planned)} of {len(ids)} planned, "
        f"{len(set(late) & ids)} planned late, unassigned: "
        f"{ {k: v for k, v in plan.get('unassigned', {}).items() if k in ids} }"
    )

    first = placed[0]
    order_id, tracking = first["order"]["id"], first["tracking"]
    holder = next(r["courier_id"] for r in plan["routes"] for s in r["stops"]
                  if s["order_id"] == order_id)  # fmt: skip
    courier = Api(args.url, token("courier", holder))
    store = Api(args.url, token("store", first["order"]["store_id"]))

    def track(step: str) -> None:
        view = public.call("GET", tracking["api"])[1]
        print(
            f"  tracking after {step}: {view['order']['status']}, eta "
            f"{view['estimated_arrival']}, courier at {view['courier']['position']}"
        )

    print(
        f"order {order_id} from store {first['order']['store_id']}, courier {holder}; "
        f"shopper's page {args.url}{tracking['page']}"
    )
    track("placing")
    legs = courier.call("GET", "/api/v1/courier/legs")[1]["legs"]
    print(
        f"  courier {holder} has {len(legs)} legs; first: {legs[0]['kind']} "
        f"{legs[0]['order_id']} ({len(legs[0]['route'])} route points)"
    )
    for target in ("preparing", "ready"):
        status, _ = store.call("POST", f"/api/v1/orders/{order_id}/status", {"status": target})
        print(f"  store staff: {target} -> {status}")
    stop = next(leg for leg in legs if leg["order_id"] == order_id and leg["kind"] == "pickup")
    now = datetime.now(UTC).isoformat()
    fix = {"lat": stop["place"]["lat"], "lng": stop["place"]["lng"], "at": now}
    print("  pings:", courier.call("POST", "/api/v1/courier/pings", {"pings": [fix]})[1])
    for event in (
        {"event_id": f"{order_id}-a", "type": "arrived"},
        {"event_id": f"{order_id}-p", "type": "picked_up"},
        {"event_id": f"{order_id}-p", "type": "picked_up"},
    ):  # the resend: applied once
        status, answer = courier.call(
            "POST", "/api/v1/courier/events", event | {"order_id": order_id}
        )
        print(
            f"  courier {event['type']}: {status} {answer.get('status')} "
            f"replayed={answer.get('replayed')}"
        )
    track("pick-up")
    door = first["order"]["customer"]
    at_door = {"lat": door["lat"], "lng": door["lng"], "at": datetime.now(UTC).isoformat()}
    courier.call("POST", "/api/v1/courier/pings", {"pings": [at_door]})
    status, answer = courier.call("POST", "/api/v1/courier/events", {
        "event_id": f"{order_id}-d", "order_id": order_id, "type": "delivered",
        "proof": {"code": tracking["delivery_code"]}})  # fmt: skip
    print(f"  courier delivered with the shopper's code: {status} {answer.get('status')}")
    track("delivery")
    kpis = dispatcher.call("GET", "/api/v1/dispatch/overview")[1]["kpis"]
    print(f"dispatcher KPIs: {kpis}")
    # the same shopper, back a little later beside the store that delivered (and under the same
    # campaign): the merchant's figures then show a delivery and a pick-up, and a repeat
    shop = public.call("GET", f"/api/v1/stores/{first['order']['store_id']}")[1]["store"]
    beside = {"lat": round(shop["lat"] + 0.0003, 5), "lng": round(shop["lng"] + 0.0003, 5)}
    sku = first["order"]["items"][0]["sku"]
    pick_up_in_store(args.url, shopper, public, dispatcher, sku, stamp, beside)
    shoppers_own_orders(shopper, first, stamp)


def pick_up_in_store(url: str, shopper: Api, public: Api, dispatcher: Api, sku: str,
                     stamp: str, where: dict[str, float]) -> None:  # fmt: skip
    """The shopper picks the nearest open partner store with the goods and collects there."""
    query = f"lat={where['lat']}&lng={where['lng']}&partner=true&open_now=true&sku={sku}&limit=3"
    nearby = public.call("GET", f"/api/v1/stores/nearby?{query}")[1]["stores"]
    chosen = nearby[0]
    print(f"pick-up in store: the shopper chooses {chosen['name']} ({chosen['id']}, "
          f"{chosen['distance_m']:.0f} m) from the nearby list")  # fmt: skip
    body = {"channel": "app", "external_id": f"demo-{stamp}-pickup", **where,
            "items": [{"sku": sku, "qty": 1}], "fulfilment": "pickup", "store_id": chosen["id"],
            "campaign": CAMPAIGN}  # fmt: skip
    status, answer = shopper.call("POST", "/api/v1/orders", body)
    if status != 201:
        print(f"  pick-up order refused: {status} {answer.get('error')}")
        return
    order, tracking = answer["order"], answer["tracking"]
    print(f"  order {order['id']}: {status} {order['fulfilment']} at {order['store_id']}: "
          f"{order['match']['reason']}")  # fmt: skip
    plan = dispatcher.call("GET", "/api/v1/dispatch/plan")[1]["plan"] or {}
    planned = {s["order_id"] for r in plan.get("routes", []) for s in r["stops"]}
    print(f"  in the courier plan: {order['id'] in planned} (no courier for a pick-up)")
    store = Api(url, token("store", order["store_id"]))
    for target in ("preparing", "ready"):
        status, _ = store.call("POST", f"/api/v1/orders/{order['id']}/status", {"status": target})
        print(f"  store staff: {target} -> {status}")
    view = public.call("GET", tracking["api"])[1]
    pickup = view["pickup"]
    print(f"  shopper's tracking: ready for pick-up={pickup['ready_for_pickup']} at "
          f"{pickup['store_name']}, {pickup['store_address']}; code {pickup['code']}; kept "
          f"until {pickup['collect_by']}; page {url}{tracking['page']}")  # fmt: skip
    wrong = "0000" if pickup["code"] != "0000" else "1111"
    status, answer = store.call("POST", f"/api/v1/orders/{order['id']}/collect", {"code": wrong})
    print(f"  staff check a wrong code: {status} {answer['error']['code']} "
          f"{answer['error']['details']}")  # fmt: skip
    status, answer = store.call("POST", f"/api/v1/orders/{order['id']}/collect",
                                {"code": pickup["code"]})  # fmt: skip
    print(f"  staff check the shopper's code: {status} {answer['order']['status']}")
    stats = store.call("GET", f"/api/v1/stores/{order['store_id']}/stats")[1]
    print(f"merchant's figures for {order['store_id']} (last 24 h): {stats['orders']} orders, "
          f"{stats['revenue_cents']} cents, new shoppers {stats['new_shoppers']}, returning "
          f"{stats['returning_shoppers']}")  # fmt: skip
    for group in ("by_campaign", "by_fulfilment", "by_channel"):
        for name, figures in stats[group].items():
            print(f"  {group[3:]} {name}: {figures}")


def shoppers_own_orders(shopper: Api, first: dict[str, Any], stamp: str) -> None:
    """The shopper books one for later, lists their orders, orders the first again and
    cancels that with a reason."""
    later = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    body = {**{k: first["order"]["customer"][k] for k in ("lat", "lng", "address")},
            "channel": "app", "external_id": f"demo-{stamp}-later", "deliver_at": later.isoformat(),
            "items": first["order"]["items"]}  # fmt: skip
    status, answer = shopper.call("POST", "/api/v1/orders", body)
    window = answer.get("order", {}).get("delivery_window")
    print(f"scheduled for {later:%H:%M} UTC: {status}, window {window}")
    status, page = shopper.call("GET", "/api/v1/orders?limit=5")
    print(f"my orders: {status}, {page.get('count')} on the first page, "
          f"next cursor {'yes' if page.get('next_cursor') else 'none'}")  # fmt: skip
    status, again = shopper.call("POST", f"/api/v1/orders/{first['order']['id']}/reorder")
    print(f"order again: {status} {again.get('order', {}).get('id')}")
    if status == 201:
        status, cancelled = shopper.call("POST", f"/api/v1/orders/{again['order']['id']}/cancel",
                                         {"reason": "ordered twice by mistake"})  # fmt: skip
        kept = cancelled.get("order", {}).get("cancellation")
        print(f"  cancelled with a reason: {status} {kept}")


if __name__ == "__main__":
    main()
