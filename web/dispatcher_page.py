"""The dispatchers' screen: the live map page, its overview data and a Server-Sent Events feed."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, render_template, stream_with_context
from flask.typing import ResponseReturnValue

from dispatch.overview import code_lock_alarms, day_kpis, order_risks
from dispatch.plans import CurrentPlan, routes_of
from dispatch.storage import code_tries
from dispatch.storage import orders as stored_orders
from dispatch.storage.couriers import load_couriers
from dispatch.storage.overview import overview_fingerprint
from dispatch.storage.plans import current_plan
from dispatch.storage.positions import positions
from dispatch.storage.tokens import STAFF
from geo.stores import Store
from geo.travel import path_through
from web.auth import allow
from web.params import takes_query
from web.services import ATTRIBUTION, catalogue_index, now, redis_client

bp = Blueprint("dispatcher_page", __name__)

STREAM_POLL_S = 1.0
STREAM_MAX_S = 300  # then the browser's EventSource reconnects by itself
MAX_STORES_ON_MAP = 2_000


@bp.get("/dispatcher")
@takes_query("token")  # read by the page itself, once
def page() -> ResponseReturnValue:
    settings = current_app.config["SETTINGS"]
    return render_template("dispatcher.html", tile_url=settings.map_tile_url or "",
                           attribution=ATTRIBUTION)  # fmt: skip


def stores_zone(stores: list[Store]) -> str:
    """The time zone most of the stores keep: the screen's clock and its "today"."""
    zones = Counter(s.timezone for s in stores)
    return zones.most_common(1)[0][0] if zones else "UTC"


def overview() -> dict[str, Any]:
    """Everything the screen shows, in one answer."""
    client = redis_client()
    travel = current_app.extensions["travel"]
    at = now()
    plan = current_plan(client)
    open_orders = [order.to_record() for order in stored_orders.open_orders(client)]
    risks = order_risks(open_orders, routes_of(plan), plan.unassigned if plan else ())
    locks = code_tries.code_locks(client)
    pings = positions(client)
    stops = {r.courier_id: r.stops for r in routes_of(plan)}
    couriers = []
    for c in load_couriers(client):
        if not c.active and not stops.get(c.id):  # deactivated: kept for history, off the map
            continue
        on_shift = c.active and any(s.start <= at < s.end for s in c.shifts)
        state = "busy" if stops.get(c.id) else "idle" if on_shift else "off"
        ping = pings.get(c.id)
        home = {"lat": c.home_lat, "lng": c.home_lng, "at": None}
        position: dict[str, Any] = ping.to_record() if ping else home
        route = stops.get(c.id, ())
        # the way the courier will ride, along the streets the phone is shown (its legs' routes)
        points = [(position["lat"], position["lng"]), *((s.lat, s.lng) for s in route)]
        path = path_through(travel, points, vehicle=c.vehicle) if route else []
        couriers.append(c.to_record() | {"state": state, "position": position,
                                         "stops": [s.to_record() for s in route],
                                         "path": [[lat, lng] for lat, lng in path]})  # fmt: skip
    index = catalogue_index()
    store_ids = {o["store_id"] for o in open_orders}
    shown = list(itertools.islice((s for s in index if s.partner), MAX_STORES_ON_MAP))
    shown += [s for sid in store_ids if (s := index.get(sid)) is not None and s not in shown]
    zone = stores_zone(shown)
    midnight = at.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    today = stored_orders.orders_between(client, midnight, at)
    return {
        "at": at.isoformat(),
        "time_zone": zone,
        "plan": _plan_summary(plan),
        "orders": [
            {"id": o["id"], "status": o["status"], "store_id": o["store_id"],
             "store": _store_summary(index.get(o["store_id"])),
             "item_count": sum(int(line["qty"]) for line in o["items"]),
             "customer": o["customer"], "note": o.get("note", ""), "promised_by": o["promised_by"],
             **risks[o["id"]], "delivery_code_locked": o["id"] in locks}
            for o in open_orders
        ],
        "alarms": code_lock_alarms(open_orders, locks),
        "couriers": couriers,
        "stores": [{"id": s.id, "name": s.name, "brand": s.brand, "address": s.address,
                    "lat": s.lat, "lng": s.lng} for s in shown],
        "kpis": day_kpis(today, len(open_orders),
                         busy=sum(c["state"] == "busy" for c in couriers),
                         idle=sum(c["state"] == "idle" for c in couriers)),
    }  # fmt: skip


def _plan_summary(plan: CurrentPlan | None) -> dict[str, Any]:
    if plan is None:
        return {"version": None, "planned_at": None, "unassigned": {}, "on_time": 0, "late": 0,
                "late_minutes": 0.0}  # fmt: skip
    return {"version": plan.version, "planned_at": plan.planned_at.isoformat(),
            "unassigned": dict(plan.unassigned), "on_time": plan.on_time, "late": plan.late,
            "late_minutes": plan.late_minutes}  # fmt: skip


def _store_summary(store: Store | None) -> dict[str, str] | None:
    return None if store is None else {"name": store.name, "address": store.address}


@bp.get("/api/v1/dispatch/overview")
@allow(*STAFF)
def overview_json() -> ResponseReturnValue:
    """Couriers, open orders with their risk, the plan, unassigned reasons and the day's KPIs."""
    return jsonify(overview())


@bp.get("/api/v1/dispatch/stream")
@takes_query("access_token")  # an EventSource sends no headers
@allow(*STAFF, allow_query=True)
def stream() -> ResponseReturnValue:
    """Server-Sent Events: an ``overview`` event at once and after every change."""

    def events() -> Iterator[str]:
        started, last, quiet = time.monotonic(), "", 0.0
        while time.monotonic() - started < STREAM_MAX_S:
            mark = overview_fingerprint(redis_client())
            if mark != last:
                last, quiet = mark, 0.0
                yield f"event: overview\ndata: {json.dumps(overview(), ensure_ascii=False)}\n\n"
            elif quiet >= 15:  # a comment line keeps proxies from closing an idle stream
                quiet = 0.0
                yield ": still here\n\n"
            time.sleep(STREAM_POLL_S)
            quiet += STREAM_POLL_S

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=headers)
