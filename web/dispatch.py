"""The dispatchers' API: couriers, the current plan (JSON and GeoJSON), re-plan, pins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from dispatch import fleet, order_store
from dispatch.orders import TRANSITIONS
from dispatch.worker import replan_once
from geo.travel import VEHICLE_SPEEDS_MPS
from web.auth import STAFF, allow, current_principal, require_own
from web.errors import ApiError, invalid_parameters
from web.params import json_number, json_object
from web.services import catalogue_index, now, redis_client

bp = Blueprint("dispatch", __name__, url_prefix="/api/v1")

MAX_BODY_BYTES = 8_000


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@bp.post("/couriers")
@allow(*STAFF)
def register_courier() -> ResponseReturnValue:
    """Register (or update) a courier: vehicle, capacity, shift and home position."""
    body = json_object(max_bytes=MAX_BODY_BYTES)
    problems: dict[str, str] = {}
    courier_id = body.get("id")
    if not isinstance(courier_id, str) or not 0 < len(courier_id) <= 64:
        problems["id"] = "required: 1 to 64 characters"
    vehicle = body.get("vehicle")
    if vehicle not in VEHICLE_SPEEDS_MPS:
        problems["vehicle"] = f"must be one of {', '.join(VEHICLE_SPEEDS_MPS)}"
    capacity = body.get("capacity")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 20:
        problems["capacity"] = "a whole number of orders from 1 to 20"
    start, end = _moment(body.get("shift_start")), _moment(body.get("shift_end"))
    if start is None:
        problems["shift_start"] = "required: ISO 8601 time with an offset"
    if end is None or (start is not None and end <= start):
        problems["shift_end"] = "required: ISO 8601 time with an offset, after shift_start"
    given = body.get("home")
    home = given if isinstance(given, dict) else {}
    lat = json_number(home.get("lat"), low=-90, high=90)
    lng = json_number(home.get("lng"), low=-180, high=180)
    if lat is None or lng is None:
        problems["home"] = "required: {lat, lng} in WGS84 degrees"
    name = body.get("name", courier_id)
    if not isinstance(name, str) or len(name) > 100:
        problems["name"] = "a string of at most 100 characters"
    if problems:
        raise invalid_parameters(problems)
    courier = fleet.CourierProfile(
        str(courier_id), str(name), str(vehicle), int(capacity),  # type: ignore[arg-type]
        start, end, lat, lng,  # type: ignore[arg-type]
    )  # fmt: skip
    fleet.save_courier(redis_client(), courier)
    return jsonify(courier=courier.to_record()), 201


@bp.get("/couriers")
@allow(*STAFF)
def list_couriers() -> ResponseReturnValue:
    client = redis_client()
    pings = fleet.positions(client)
    couriers = [c.to_record() | {"position": pings.get(c.id)} for c in fleet.load_couriers(client)]
    return jsonify(couriers=couriers, count=len(couriers))


@bp.post("/couriers/<courier_id>/position")
@allow("courier", *STAFF)
def courier_position(courier_id: str) -> ResponseReturnValue:
    """A location ping (the courier phone API of a later issue batches and checks these)."""
    if current_principal().role == "courier":
        require_own("courier", courier_id)
    client = redis_client()
    if courier_id not in {c.id for c in fleet.load_couriers(client)}:
        raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
    body = json_object(max_bytes=MAX_BODY_BYTES)
    lat = json_number(body.get("lat"), low=-90, high=90)
    lng = json_number(body.get("lng"), low=-180, high=180)
    if lat is None or lng is None:
        raise invalid_parameters({"lat/lng": "required: numbers in WGS84 degrees"})
    fleet.record_position(client, courier_id, lat, lng, now())
    return jsonify(courier_id=courier_id, position={"lat": lat, "lng": lng})


@bp.get("/dispatch/plan")
@allow(*STAFF)
def plan_json() -> ResponseReturnValue:
    """The current plan: per courier its stops with times, unassigned orders with reasons."""
    return jsonify(plan=fleet.current_plan(redis_client()))


@bp.get("/dispatch/plan.geojson")
@allow(*STAFF)
def plan_geojson() -> ResponseReturnValue:
    """The current plan as GeoJSON, one LineString per courier route."""
    client = redis_client()
    plan = fleet.current_plan(client) or {"routes": []}
    collection = fleet.route_geojson(plan, fleet.load_couriers(client), fleet.positions(client))
    return current_app.response_class(
        current_app.json.dumps(collection), mimetype="application/geo+json"
    )


@bp.post("/dispatch/replan")
@allow(*STAFF)
def replan() -> ResponseReturnValue:
    """Re-plan every region now, whoever holds its lease (a dispatcher's override; the workers
    also re-plan on their own every few seconds)."""
    client = redis_client()
    settings = current_app.config["SETTINGS"]
    plan = replan_once(
        client, store_of=catalogue_index().get, travel=current_app.extensions["travel"],
        now=now(), time_limit_s=settings.plan_time_limit_s, margin_s=settings.plan_margin_s,
        resolution=settings.region_resolution,
    )  # fmt: skip
    if plan is None:
        raise ApiError(503, "replan_failed", "the re-plan failed; the previous plan stays")
    return jsonify(plan=plan)


@bp.put("/dispatch/pins/<order_id>")
@allow(*STAFF)
def pin(order_id: str) -> ResponseReturnValue:
    """Pin an order to a courier: every later plan keeps that assignment."""
    client = redis_client()
    order = order_store.get_order(client, order_id)
    if order is None:
        raise ApiError(404, "order_not_found", f"no order with id {order_id!r}")
    if not TRANSITIONS[order["status"]]:
        raise ApiError(409, "order_closed", f"order {order_id} is already {order['status']}")
    courier_id = json_object(max_bytes=MAX_BODY_BYTES).get("courier_id")
    if courier_id not in {c.id for c in fleet.load_couriers(client)}:
        raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
    fleet.set_pin(client, order_id, str(courier_id))
    return jsonify(order_id=order_id, courier_id=courier_id)


@bp.delete("/dispatch/pins/<order_id>")
@allow(*STAFF)
def unpin(order_id: str) -> ResponseReturnValue:
    fleet.set_pin(redis_client(), order_id, None)
    return jsonify(order_id=order_id, courier_id=None)
