"""Shoppers' tracking: one order's status, store, courier and arrival, by its own signed link.

A tracking token is the order id and an HMAC of it under the service's secret, so it needs no
storage, cannot be guessed from the id, and opens exactly one order. The same secret gives the
order's delivery code, which the shopper tells the courier at the door as proof of delivery.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any, cast

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from dispatch.orders import (
    ENDED_UNSOLD,
    FINAL_STATUSES,
    FORWARD,
    PICKUP_FORWARD,
    Order,
    collect_by,
)
from dispatch.plans import routes_of
from dispatch.storage import orders as stored_orders
from dispatch.storage.plans import current_plan
from dispatch.storage.positions import positions
from web.errors import ApiError
from web.limits import rate_limited
from web.services import ATTRIBUTION, catalogue_index, now, redis_client

bp = Blueprint("tracking", __name__)

DESTINATION_DECIMALS = 3


def _mac(purpose: str, order_id: str) -> bytes:
    secret = cast(str, current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{purpose}:{order_id}".encode(), hashlib.sha256).digest()


def tracking_token(order_id: str) -> str:
    return f"{order_id}.{_mac('track', order_id).hex()[:32]}"


def delivery_code(order_id: str) -> str:
    """Four digits the shopper gives the courier at the door."""
    return f"{int.from_bytes(_mac('deliver', order_id)[:4], 'big') % 10_000:04d}"


def tracking_links(order_id: str) -> dict[str, str]:
    token = tracking_token(order_id)
    return {"token": token, "page": f"/track/{token}", "api": f"/api/v1/track/{token}",
            "delivery_code": delivery_code(order_id)}  # fmt: skip


def order_of_token(token: str) -> Order:
    """The order a tracking token opens; a 404 for a forged, altered or unknown link."""
    order_id, _, _ = token.rpartition(".")
    # as bytes: compare_digest refuses str with non-ASCII characters (a 500, found by fuzzing)
    if not order_id or not hmac.compare_digest(tracking_token(order_id).encode(), token.encode()):
        raise ApiError(404, "tracking_not_found", "no order for this tracking link")
    order = stored_orders.get_order(redis_client(), order_id)
    if order is None:
        raise ApiError(404, "tracking_not_found", "no order for this tracking link")
    return order


def _steps(order: Order) -> list[dict[str, Any]]:
    """The lifecycle's steps with when each was done (None: still to come); an order that ended
    early keeps the steps it reached and its end."""
    done = {e.status: e.at.isoformat() for e in order.events}
    ended = order.status in ENDED_UNSOLD
    path = PICKUP_FORWARD if order.request.fulfilment == "pickup" else FORWARD
    steps = [{"status": s, "at": done.get(s)} for s in path if not ended or s in done]
    if ended:
        steps.append({"status": order.status, "at": done.get(order.status)})
    return steps


def tracking_view(order: Order) -> dict[str, Any]:
    """What a waiting shopper may know: status and steps, items, the store, the courier once
    on the way, the estimated arrival, whether it may still be cancelled, the code."""
    client = redis_client()
    store = catalogue_index().get(order.store_id)
    # an ended order has no courier and no arrival, even while the last plan still lists it
    ended = order.status in FINAL_STATUSES
    routes = () if ended else routes_of(current_plan(client))
    courier_id, eta = None, None
    for route in routes:
        for stop in route.stops:
            if stop.order_id == order.id and stop.kind == "delivery":
                courier_id, eta = route.courier_id, stop.arrive_at.isoformat()
    position = None
    if order.status == "picked_up" and courier_id is not None:
        ping = positions(client).get(courier_id)
        position = ping.to_record() if ping else None
    names = stored_orders.load_products(client)
    lines = order.request.lines
    items = [
        {
            "sku": line.sku,
            "qty": line.qty,
            "name": names[line.sku].name if line.sku in names else line.sku,
        }
        for line in lines
    ]
    record = order.to_record()  # the times as the API writes them
    return {
        "at": now().isoformat(),
        "order": {"id": order.id, "status": order.status, "promised_by": record["promised_by"],
                  "created_at": record["created_at"], "items": items, "events": record["events"],
                  "steps": _steps(order), "can_cancel": order.status == "accepted",
                  # beer, cigarettes: the buyer shows an ID at the door or the counter
                  "id_check_required": any(line.sku in names and names[line.sku].age_restricted
                                           for line in lines),
                  # a scheduled order's time (null for one within the hour)
                  "deliver_at": record["deliver_at"],
                  "delivery_window": record["delivery_window"]},
        "store": None if store is None else {"id": store.id, "name": store.name,
                                             "address": store.address, "lat": store.lat,
                                             "lng": store.lng, "timezone": store.timezone},
        # where to, to about 100 m: enough for the map, while the link never gives the address
        "destination": {"lat": round(order.request.lat, DESTINATION_DECIMALS),
                        "lng": round(order.request.lng, DESTINATION_DECIMALS)},
        "courier": {"assigned": courier_id is not None, "position": position},
        "estimated_arrival": eta,
        "delivery_code": delivery_code(order.id),
        "fulfilment": order.request.fulfilment,
        "pickup": _pickup_view(order, store),
    }  # fmt: skip


def _pickup_view(order: Order, store: Any) -> dict[str, Any] | None:
    """For a pick-up order: whether it waits at the counter, where, the code staff check, and
    until when it is kept (None for a delivery)."""
    if order.request.fulfilment != "pickup":
        return None
    hold = timedelta(seconds=current_app.config["SETTINGS"].pickup_hold_s)
    deadline = collect_by(order, hold=hold)
    return {
        "ready_for_pickup": order.status == "ready",
        "store_name": None if store is None else store.name,
        "store_address": None if store is None else store.address,
        "code": delivery_code(order.id),
        "collect_by": None if deadline is None else deadline.isoformat(),
    }


@bp.get("/api/v1/track/<token>")
@rate_limited("public")
def track(token: str) -> ResponseReturnValue:
    """What a waiting shopper may know: status, store, courier position once on the way, ETA."""
    return jsonify(tracking_view(order_of_token(token)))


@bp.get("/track/<token>")
@rate_limited("public")
def tracking_page(token: str) -> ResponseReturnValue:
    order_of_token(token)  # an unknown link is a 404 here too
    settings = current_app.config["SETTINGS"]
    return render_template("track.html", token=token, tile_url=settings.map_tile_url or "",
                           attribution=ATTRIBUTION)  # fmt: skip
