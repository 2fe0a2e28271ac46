"""The dispatchers' API: couriers (register, list, fetch, deactivate, reactivate, shifts for
other days), the current plan (JSON and GeoJSON), re-plan, pins."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from dispatch.couriers import (
    MAX_SHIFTS,
    SHIFT_HORIZON,
    CourierProfile,
    Shift,
    ShiftOverlapError,
    registered,
    with_shift,
)
from dispatch.geojson import plan_to_geojson
from dispatch.orders import FINAL_STATUSES
from dispatch.planner import pin_refusal
from dispatch.plans import routes_of
from dispatch.positions import ping_record
from dispatch.storage import orders as stored_orders
from dispatch.storage.client import Client
from dispatch.storage.couriers import (
    carried_by,
    change_courier,
    load_courier,
    load_couriers,
    save_courier,
)
from dispatch.storage.pins import set_pin
from dispatch.storage.plans import current_plan, release_courier
from dispatch.storage.positions import positions, record_position
from dispatch.storage.snapshot import snapshot
from dispatch.storage.tokens import STAFF
from dispatch.worker import replan_once
from web.auth import allow, current_principal, require_own
from web.bodies import CourierBody, DeactivateBody, PinBody, PositionBody, ShiftBody
from web.errors import ApiError, invalid_parameters
from web.params import MOMENT_RULE, QueryReader, takes_query
from web.services import catalogue_index, now, redis_client

bp = Blueprint("dispatcher_api", __name__, url_prefix="/api/v1")


@bp.post("/couriers")
@allow(*STAFF)
def register_courier() -> ResponseReturnValue:
    """Register (or update) a courier: vehicle, capacity, shift and home position."""
    given = CourierBody.read()
    courier = CourierProfile(
        given.id, given.id if given.name is None else given.name, given.vehicle, given.capacity,
        given.shift_start, given.shift_end, given.home.lat, given.home.lng,
    )  # fmt: skip
    client = redis_client()
    courier = registered(courier, load_courier(client, courier.id))
    save_courier(client, courier)
    return jsonify(courier=courier.to_record()), 201


@bp.get("/couriers")
@takes_query("active")
@allow(*STAFF)
def list_couriers() -> ResponseReturnValue:
    """Every registered courier, deactivated ones too (``active=true`` or ``false`` to filter),
    with its last position."""
    args = QueryReader(request.args)
    active = args.boolean("active")
    args.finish()
    client = redis_client()
    pings = positions(client)
    couriers = [c.to_record() | {"position": ping_record(pings.get(c.id))}
                for c in load_couriers(client) if active is None or c.active == active]  # fmt: skip
    return jsonify(couriers=couriers, count=len(couriers))


def _courier_or_404(client: Client, courier_id: str) -> CourierProfile:
    courier = load_courier(client, courier_id)
    if courier is None:
        raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
    return courier


@bp.get("/couriers/<courier_id>")
@allow("courier", *STAFF)
def get_courier(courier_id: str) -> ResponseReturnValue:
    """One courier: profile, shifts, whether active, last position (a courier: its own only)."""
    if current_principal().role == "courier":
        require_own("courier", courier_id)
    client = redis_client()
    courier = _courier_or_404(client, courier_id)
    return jsonify(courier=courier.to_record() | {"position": ping_record(positions(client).get(
        courier.id))})  # fmt: skip


@bp.post("/couriers/<courier_id>/deactivate")
@allow(*STAFF)
def deactivate_courier(courier_id: str) -> ResponseReturnValue:
    """Take a courier off the fleet, kept for history: never planned again (until reactivated);
    its pinned and planned orders go back to unassigned for the next plan. A courier with goods
    on board is a 409 ``courier_carrying``: deliver or fail them first."""
    reason = DeactivateBody.read(optional=True).reason
    client = redis_client()
    courier = _courier_or_404(client, courier_id)
    if not courier.active:
        return jsonify(courier=courier.to_record(), changed=False, released=[])
    on_board = carried_by(client, courier_id)
    if on_board:
        raise ApiError(409, "courier_carrying",
                       f"courier {courier_id} has {len(on_board)} order(s) on board: deliver or "
                       "fail them first", {"order_ids": on_board})  # fmt: skip
    at = now()

    def deactivate(c: CourierProfile) -> CourierProfile:
        return replace(c, active=False, deactivated_at=at, deactivation_reason=reason)

    changed = change_courier(client, courier_id, deactivate)
    assert changed is not None  # couriers are never deleted
    released = release_courier(
        client, courier_id, reason=f"courier {courier_id} deactivated: waiting for the next plan"
    )
    return jsonify(courier=changed.to_record(), changed=True, released=released)


@bp.post("/couriers/<courier_id>/reactivate")
@allow(*STAFF)
def reactivate_courier(courier_id: str) -> ResponseReturnValue:
    """Bring a deactivated courier back: planned again in its shifts from the next plan."""
    client = redis_client()
    courier = _courier_or_404(client, courier_id)
    if courier.active:
        return jsonify(courier=courier.to_record(), changed=False)

    def reactivate(c: CourierProfile) -> CourierProfile:
        return replace(c, active=True, deactivated_at=None, deactivation_reason="")

    changed = change_courier(client, courier_id, reactivate)
    assert changed is not None
    return jsonify(courier=changed.to_record(), changed=True)


@bp.post("/couriers/<courier_id>/shifts")
@allow(*STAFF)
def add_shift(courier_id: str) -> ResponseReturnValue:
    """A shift on another day (or later today), beside the registered one; one overlapping a
    shift the courier has is a 409 ``shift_overlap`` naming it."""
    asked = ShiftBody.read()
    start, end, at = asked.start, asked.end, now()
    problems: dict[str, str] = {}
    if start > at + SHIFT_HORIZON:
        days = SHIFT_HORIZON.days
        problems["start"] = f"required: {MOMENT_RULE}, at most {days} days ahead"
    if end <= at:
        problems["end"] = "this shift is over already: give one still to come"
    if problems:
        raise invalid_parameters(problems)
    shift = Shift(start, end)
    client = redis_client()
    _courier_or_404(client, courier_id)

    def add(c: CourierProfile) -> CourierProfile:
        ahead = [s for s in c.extra_shifts if s.end > at]
        if len(ahead) >= MAX_SHIFTS:
            raise ApiError(409, "too_many_shifts", f"at most {MAX_SHIFTS} shifts ahead",
                           {"field": "start"})  # fmt: skip
        return with_shift(c, shift, now=at)

    try:
        courier = change_courier(client, courier_id, add)
    except ShiftOverlapError as exc:
        raise ApiError(409, "shift_overlap", str(exc), {"field": "start", "shift_id": exc.shift.id,
                       "shift": exc.shift.to_record()}) from exc  # fmt: skip
    assert courier is not None
    return jsonify(courier_id=courier_id, shift=shift.to_record(),
                   shifts=[s.to_record() for s in courier.shifts]), 201  # fmt: skip


@bp.delete("/couriers/<courier_id>/shifts/<shift_id>")
@allow(*STAFF)
def remove_shift(courier_id: str, shift_id: str) -> ResponseReturnValue:
    """Drop a shift added for another day (the registered shift changes by registering again)."""
    client = redis_client()
    courier = _courier_or_404(client, courier_id)
    if Shift(courier.shift_start, courier.shift_end).id == shift_id:
        raise ApiError(409, "registered_shift", "this is the registered shift: change it with "
                       "POST /api/v1/couriers", {"shift_id": shift_id})  # fmt: skip

    def remove(c: CourierProfile) -> CourierProfile:
        kept = tuple(s for s in c.extra_shifts if s.id != shift_id)
        if len(kept) == len(c.extra_shifts):
            message = f"courier {courier_id} has no shift {shift_id!r}"
            raise ApiError(404, "shift_not_found", message, {"shift_id": shift_id})
        return replace(c, extra_shifts=kept)

    changed = change_courier(client, courier_id, remove)
    assert changed is not None
    return jsonify(courier_id=courier_id, removed=shift_id,
                   shifts=[s.to_record() for s in changed.shifts])  # fmt: skip


@bp.post("/couriers/<courier_id>/position")
@allow("courier", *STAFF)
def courier_position(courier_id: str) -> ResponseReturnValue:
    """A location ping (the courier phone API of a later issue batches and checks these)."""
    if current_principal().role == "courier":
        require_own("courier", courier_id)
    client = redis_client()
    if courier_id not in {c.id for c in load_couriers(client)}:
        raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
    position = PositionBody.read()
    lat, lng = position.lat, position.lng
    record_position(client, courier_id, lat, lng, now())
    return jsonify(courier_id=courier_id, position={"lat": lat, "lng": lng})


@bp.get("/dispatch/plan")
@allow(*STAFF)
def plan_json() -> ResponseReturnValue:
    """The current plan: per courier its stops with times, unassigned orders with reasons."""
    plan = current_plan(redis_client())
    return jsonify(plan=None if plan is None else plan.to_record())


@bp.get("/dispatch/plan.geojson")
@allow(*STAFF)
def plan_geojson() -> ResponseReturnValue:
    """The current plan as GeoJSON, one LineString per courier route."""
    client = redis_client()
    routes = routes_of(current_plan(client))
    collection = plan_to_geojson(routes, load_couriers(client), positions(client))
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
    return jsonify(plan=plan.to_record())


@bp.put("/dispatch/pins/<order_id>")
@allow(*STAFF)
def pin(order_id: str) -> ResponseReturnValue:
    """Pin an order to a courier: every later plan keeps that assignment. A courier who cannot
    take it (off shift, too small, on board another's, after the shift or the promise) is a 422
    ``pin_infeasible`` with the reason, checked by the planner's own rules."""
    asked = PinBody.read()
    courier_id, allow_late = asked.courier_id, asked.allow_late
    client = redis_client()
    order = stored_orders.get_order(client, order_id)
    if order is None:
        raise ApiError(404, "order_not_found", f"no order with id {order_id!r}")
    if order.status in FINAL_STATUSES:
        raise ApiError(409, "order_closed", f"order {order_id} is already {order.status}")
    courier = next((c for c in load_couriers(client) if c.id == courier_id), None)
    if courier is None:
        raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
    store = catalogue_index().get(order.store_id)
    zone = ZoneInfo(store.timezone) if store else UTC  # the page shows the stores' time
    _check_pin(client, order_id, courier, allow_late=allow_late, zone=zone)
    set_pin(client, order_id, courier.id)
    return jsonify(order_id=order_id, courier_id=courier.id)


def _check_pin(
    client: Client, order_id: str, courier: CourierProfile, *, allow_late: bool,
    zone: tzinfo,
) -> None:  # fmt: skip
    """Refuse a pin the planner could not keep, naming why (``details.reason``): the order and
    the courier as the next plan would see them."""
    at = now()
    orders, couriers, problems = snapshot(client, store_of=catalogue_index().get, now=at)
    details: dict[str, Any] = {"courier_id": courier.id, "order_id": order_id}

    def refuse(reason: str, message: str, **more: Any) -> ApiError:
        return ApiError(422, "pin_infeasible", message, details | {"reason": reason, **more})

    order = next((o for o in orders if o.id == order_id), None)
    if order is None:
        raise refuse("not_plannable", problems.get(order_id, "the order is not open"))
    if order.picked_up_by not in (None, courier.id):
        message = f"order {order_id} is already on board courier {order.picked_up_by}"
        raise refuse("on_board_other", message, carried_by=order.picked_up_by)
    if not courier.active:
        raise refuse("inactive", f"courier {courier.id} is deactivated")
    state = next((c for c in couriers if c.id == courier.id), None)
    if state is None:
        message = (
            f"courier {courier.id} is not on shift (shift {courier.shift_start.isoformat()} "
            f"to {courier.shift_end.isoformat()})"
        )
        raise refuse("off_shift", message, shift_start=courier.shift_start.isoformat(),
                     shift_end=courier.shift_end.isoformat())  # fmt: skip
    carrying = any(o.picked_up_by == courier.id for o in orders)
    refusal = pin_refusal(order, state, now=at, travel=current_app.extensions["travel"],
                          carrying=carrying, allow_late=allow_late, zone=zone)  # fmt: skip
    if refusal is not None:
        raise refuse(refusal.code, refusal.message,
                     earliest_delivery=refusal.earliest_delivery.isoformat(),
                     deliver_by=refusal.deliver_by.isoformat())  # fmt: skip


@bp.delete("/dispatch/pins/<order_id>")
@allow(*STAFF)
def unpin(order_id: str) -> ResponseReturnValue:
    """Unpin an order; 404 when it is not pinned."""
    if not set_pin(redis_client(), order_id, None):
        raise ApiError(404, "pin_not_found", f"order {order_id!r} is not pinned")
    return jsonify(order_id=order_id, courier_id=None)
