"""Shoppers' tracking: one order's status, store, courier and arrival, by its own signed link.

A tracking token is the order id and an HMAC of it under the service's secret, so it needs no
storage, cannot be guessed from the id, and opens exactly one order. The same secret gives the
order's delivery code, which the shopper tells the courier at the door as proof of delivery.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, cast

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from dispatch import fleet, order_store
from web.errors import ApiError
from web.limits import rate_limited
from web.services import catalogue_index, redis_client

bp = Blueprint("tracking", __name__)


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


def _order_of(token: str) -> dict[str, Any]:
    order_id, _, _ = token.rpartition(".")
    # as bytes: compare_digest refuses str with non-ASCII characters (a 500, found by fuzzing)
    if not order_id or not hmac.compare_digest(tracking_token(order_id).encode(), token.encode()):
        raise ApiError(404, "tracking_not_found", "no order for this tracking link")
    order = order_store.get_order(redis_client(), order_id)
    if order is None:
        raise ApiError(404, "tracking_not_found", "no order for this tracking link")
    return order


@bp.get("/api/v1/track/<token>")
@rate_limited("public")
def track(token: str) -> ResponseReturnValue:
    """What a waiting shopper may know: status, store, courier position once on the way, ETA."""
    order = _order_of(token)
    client = redis_client()
    store = catalogue_index().get(order["store_id"])
    plan = fleet.current_plan(client) or {"routes": []}
    courier_id, eta = None, None
    for route in plan["routes"]:
        for stop in route["stops"]:
            if stop["order_id"] == order["id"] and stop["kind"] == "delivery":
                courier_id, eta = route["courier_id"], stop["arrive_at"]
    position = None
    if order["status"] == "picked_up" and courier_id is not None:
        ping = fleet.positions(client).get(courier_id)
        position = {"lat": ping["lat"], "lng": ping["lng"], "at": ping["at"]} if ping else None
    return jsonify(
        order={"id": order["id"], "status": order["status"], "promised_by": order["promised_by"],
               "created_at": order["created_at"], "items": order["items"],
               "events": order["events"]},
        store=None if store is None else {"id": store.id, "name": store.name,
                                          "lat": store.lat, "lng": store.lng},
        courier={"assigned": courier_id is not None, "position": position},
        estimated_arrival=eta if order["status"] not in ("delivered", "cancelled", "failed")
        else None,
        delivery_code=delivery_code(order["id"]),
    )  # fmt: skip


@bp.get("/track/<token>")
@rate_limited("public")
def tracking_page(token: str) -> ResponseReturnValue:
    _order_of(token)  # an unknown link is a 404 here too
    return render_template("track.html", token=token)
