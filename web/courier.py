"""The couriers' phone API: my legs, my events (arrived, picked up, delivered, failed), my pings.

A courier token sees and touches only its own courier's orders; another's order is a 404.
Events carry the phone's own event id, unique within the order: a phone back online resends what
it buffered and each event is applied once (the answer to a resend is the first answer; the same
id with another body is a 409, as for orders). Events drive the order's status and tell the
planner who carries what. A few wrong delivery codes lock the order's delivery until a dispatcher
unlocks it.

A leg carries what the courier needs at the door: the order's note, its items (by name), the
shopper's phone masked (``09xx-xxx-678``: enough to recognise the call, not to keep the number)
and whether the buyer's ID must be checked (age-restricted items). Such an order is delivered
only with ``id_checked: true``; a failed check is a ``failed`` event with ``id_checked: false``
and the goods go back to the store's stock. A deactivated courier's phone gets a 403.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from dispatch.intake import body_hash
from dispatch.orders import IllegalTransitionError
from dispatch.plans import StoredStop
from dispatch.positions import MAX_SPEED_MPS
from dispatch.products import restricted_skus
from dispatch.storage import code_tries, courier_events
from dispatch.storage import orders as stored_orders
from dispatch.storage.couriers import (
    Fields,
    courier_orders,
    load_courier,
    load_couriers,
    picked_up_fields,
)
from dispatch.storage.plans import current_plan
from dispatch.storage.positions import positions, record_position
from dispatch.storage.tokens import STAFF
from geo.distance import haversine_m
from web.auth import allow, current_principal
from web.bodies import MAX_ID_LEN, CourierEventBody, FixBody, PingsBody
from web.errors import ApiError, invalid_parameters
from web.limits import rate_limited
from web.params import QueryReader, takes_query
from web.services import catalogue_index, now, redis_client, web_metrics
from web.tracking import delivery_code

bp = Blueprint("courier", __name__, url_prefix="/api/v1/courier")


def _active_courier(client: Any, courier_id: str) -> None:
    """A deactivated courier's phone may do nothing more (its token stays for the record)."""
    profile = load_courier(client, courier_id)
    if profile is not None and not profile.active:
        raise ApiError(403, "courier_inactive", f"courier {courier_id} is deactivated",
                       {"courier_id": courier_id})  # fmt: skip


def masked_contact(contact: str) -> str:
    """A phone number with all but its first two and last three digits hidden, grouped from
    the end in threes (``0912345678`` -> ``09xx-xxx-678``); "" for none."""
    digits = re.sub(r"\D", "", contact)
    if len(digits) < 6:
        return "x" * len(digits)
    shown = digits[:2] + "x" * (len(digits) - 5) + digits[-3:]
    groups = [shown[-3:], shown[-6:-3], shown[:-6]]
    plus = "+" if contact.strip().startswith("+") else ""
    return plus + "-".join(g for g in reversed(groups) if g)


def _courier_id() -> str:
    """The courier a call is about: the token's own, or ``courier_id`` for dispatchers."""
    principal = current_principal()
    args = QueryReader(request.args)  # given twice is a 400, as every query parameter
    courier_id = args.text("courier_id", max_length=MAX_ID_LEN) or ""
    args.finish()
    if principal.role == "courier":
        assert principal.subject is not None  # courier tokens are always bound
        if courier_id not in ("", principal.subject):  # another courier's legs do not exist here
            raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
        _active_courier(redis_client(), principal.subject)
        return principal.subject
    if not courier_id:
        raise invalid_parameters({"courier_id": "required for staff: whose legs"})
    if courier_id not in {c.id for c in load_couriers(redis_client())}:
        raise ApiError(404, "courier_not_found", f"no courier with id {courier_id!r}")
    return courier_id


@bp.get("/legs")
@takes_query("courier_id")
@rate_limited("courier")
@allow("courier", *STAFF)
def legs() -> ResponseReturnValue:
    """My stops in planned order: what to do, where, with what, by when, and the way there."""
    client = redis_client()
    courier_id = _courier_id()
    plan = current_plan(client)
    route = None if plan is None else plan.route_of(courier_id)
    profile = next((c for c in load_couriers(client) if c.id == courier_id), None)
    ping = positions(client).get(courier_id)
    here = (ping.lat, ping.lng) if ping else (
        (profile.home_lat, profile.home_lng) if profile else None)  # fmt: skip
    vehicle = profile.vehicle if profile else "e-bike"
    travel = current_app.extensions["travel"]
    products = stored_orders.load_products(client)
    answer = []
    for stop in route.stops if route else ():
        order = stored_orders.get_order(client, stop.order_id)
        if order is None:
            continue
        there = (stop.lat, stop.lng)
        path = travel.path(here, there, vehicle=vehicle) if here else [there]
        answer.append(_leg(stop, order.to_record(), path, products))
        here = there
    return jsonify(courier_id=courier_id, plan_version=plan.version if plan else None,
                   legs=answer)  # fmt: skip


def _leg(
    stop: StoredStop, order: dict[str, Any], path: list[tuple[float, float]],
    products: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    pickup = stop.kind == "pickup"
    store = catalogue_index().get(order["store_id"]) if pickup else None
    place = ({"name": store.name, "address": store.address} if store else
             {"name": "customer", "address": order["customer"]["address"]})  # fmt: skip
    items = []
    for item in order["items"]:
        product = products.get(item["sku"])
        items.append(
            item
            | {
                "name": product.name if product else item["sku"],
                "age_restricted": bool(product and product.age_restricted),
            }
        )
    return {
        "order_id": order["id"], "kind": stop.kind, "status": order["status"],
        "place": place | {"lat": stop.lat, "lng": stop.lng},
        "items": items,
        "note": order.get("note", ""),
        "contact": masked_contact(order.get("contact", "")) or None,
        "id_check_required": any(item["age_restricted"] for item in items),
        "planned_arrival": stop.arrive_at.isoformat(),
        "deadline": order["promised_by"],
        # a scheduled order: not at the door before its window opens (null: any time)
        "not_before": None if pickup else (order.get("delivery_window") or {}).get("from"),
        "route": [[lat, lng] for lat, lng in path],
    }  # fmt: skip


def needs_id_check(client: Any, order: dict[str, Any]) -> bool:
    """Whether the order holds age-restricted items (the buyer's ID is checked at the door)."""
    restricted = restricted_skus(stored_orders.load_products(client))
    return any(item["sku"] in restricted for item in order.get("items", ()))


@bp.post("/events")
@rate_limited("courier")
@allow("courier")
def report_event() -> ResponseReturnValue:
    """One event from the phone; a resend with the same ``event_id`` gets the first answer."""
    principal = current_principal()
    courier_id = str(principal.subject)
    event, body = CourierEventBody.read_with_json()
    event_id, order_id, kind = event.event_id, event.order_id, event.type
    client = redis_client()
    _active_courier(client, courier_id)
    fingerprint = body_hash(body)
    replay = _recorded(client, courier_id, str(order_id), str(event_id), fingerprint)
    if replay is not None:
        return jsonify(replay | {"replayed": True})
    if order_id not in courier_orders(client, courier_id):
        raise ApiError(404, "order_not_found", f"no order {order_id!r} among your legs")
    answer = _apply(client, courier_id, event_id, order_id, kind, event, body)
    return jsonify({"replayed": False} | answer)


def _place_of(order: dict[str, Any]) -> tuple[float, float] | None:
    if order.get("status") == "picked_up":
        return (order["customer"]["lat"], order["customer"]["lng"])
    store = catalogue_index().get(order.get("store_id", ""))
    return None if store is None else (store.lat, store.lng)


def _recorded(
    client: Any, courier_id: str, order_id: str, event_id: str, fingerprint: str
) -> dict[str, Any] | None:
    """The first answer to this event of this order; a 409 if it came with another body."""
    recorded = courier_events.recorded_answer(client, courier_id, order_id, event_id)
    if recorded is None:
        return None
    if recorded.body_hash not in (None, fingerprint):  # older answers had no hash: trust
        message = "this event_id was already used for another event"
        raise ApiError(409, "idempotency_conflict", message, {"event_id": event_id})
    return dict(recorded.answer)


def _apply(client: Any, courier_id: str, event_id: str, order_id: str, kind: str,
           event: CourierEventBody, body: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    at = now()
    fingerprint = body_hash(body)
    answer: dict[str, Any] = {"event_id": event_id, "order_id": order_id, "type": kind,
                              "at": at.isoformat()}  # fmt: skip
    if kind == "arrived":  # the courier is at the store, or at the door once the order is on board
        order = _record_of(client, order_id)
        answer["status"] = order.get("status")
        place = _place_of(order)
        if place is not None:
            record_position(client, courier_id, place[0], place[1], at)
        courier_events.save_answer(client, courier_id, order_id, event_id, answer,
                                   body_hash=fingerprint)  # fmt: skip
        return answer
    target, note, also = _transition_for(client, kind, order_id, courier_id, event)
    id_failed = kind == "failed" and event.id_checked is False
    record: dict[str, Any] = {"event_id": event_id, "order_id": order_id, "type": kind,
                              "at": at.isoformat(), "status": target}  # fmt: skip
    if id_failed:  # the goods go back to the store: say where
        store = catalogue_index().get(_record_of(client, order_id).get("store_id", ""))
        record["return_to"] = None if store is None else {
            "store_id": store.id, "name": store.name, "address": store.address,
            "lat": store.lat, "lng": store.lng}  # fmt: skip
    also |= courier_events.answer_fields(courier_id, order_id, event_id, record,
                                         body_hash=fingerprint)  # fmt: skip
    try:  # a pick-up of an order the counter never marked ready records the steps it implies
        moved = stored_orders.change_status(client, order_id, target, at=at, note=note,
                                          also_hset=also, restock=id_failed)  # fmt: skip
    except IllegalTransitionError as exc:
        replay = _recorded(client, courier_id, order_id, event_id, fingerprint)
        if replay is not None:  # a twin resend got there first
            return replay | {"replayed": True}
        raise ApiError(409, "illegal_event", str(exc), {"type": kind}) from exc
    web_metrics().order_moved(moved)
    return record | {"status": moved.status}


def _record_of(client: Any, order_id: str) -> dict[str, Any]:
    """The order's record, as this module reads it (empty for an order that is gone)."""
    order = stored_orders.get_order(client, order_id)
    return {} if order is None else order.to_record()


def _transition_for(
    client: Any, kind: str, order_id: str, courier_id: str, event: CourierEventBody
) -> tuple[str, str, Fields]:
    """The status an event moves to, the note kept with it, and what else it records."""
    if kind == "picked_up":
        return "picked_up", f"picked up by {courier_id}", picked_up_fields(order_id, courier_id)
    if kind == "failed":
        said = (event.reason or "").strip()  # its length is the body's to check
        if event.id_checked is False:  # a refused ID is reason enough
            why = "ID check failed; goods returned to the store" + (f": {said}" if said else "")
            return "failed", f"failed ({courier_id}): {why}", {}
        if not said:
            raise invalid_parameters({"reason": "required: why the delivery failed"})
        return "failed", f"failed ({courier_id}): {said}", {}
    checked = ""
    order = _record_of(client, order_id)
    if needs_id_check(client, order):
        if event.id_checked is not True:
            raise ApiError(422, "id_check_required",
                           "this order holds age-restricted items: check the buyer's ID and "
                           "send id_checked true, or a failed event with id_checked false",
                           {"field": "id_checked"})  # fmt: skip
        checked = ", ID checked"
    code = event.proof.code if event.proof else None
    photo = event.proof.photo_ref if event.proof else None
    if code is not None:
        _check_code(client, order_id, courier_id, code)
        return "delivered", f"delivered by {courier_id}, code given{checked}", {}
    if photo:
        if code_tries.is_locked(client, order_id):  # no way round the lock
            raise _locked(order_id)
        return "delivered", f"delivered by {courier_id}, photo {photo}{checked}", {}
    raise invalid_parameters({"proof": "required: {code} from the shopper or {photo_ref}"})


def _check_code(client: Any, order_id: str, courier_id: str, code: str) -> None:
    """Refuse a wrong code, counting it; at the limit the order is locked for the dispatcher."""
    judged = code_tries.try_code(client, order_id, given=code,
                                     expected=delivery_code(order_id), courier_id=courier_id,
                                     at=now())  # fmt: skip
    if judged.outcome == "locked":
        raise _locked(order_id)
    if judged.outcome == "wrong":
        left = judged.tries_left
        locked = "; delivery is now locked until a dispatcher unlocks it" if not left else ""
        message = f"the code does not match this order{locked}"
        raise ApiError(422, "wrong_delivery_code", message, {"tries_left": left})


def _locked(order_id: str) -> ApiError:
    return ApiError(423, "delivery_code_locked",
                    f"too many wrong codes: the delivery of {order_id} is locked; call the "
                    "dispatcher to unlock it", {"order_id": order_id})  # fmt: skip


@bp.post("/pings")
@rate_limited("courier")
@allow("courier")
def pings() -> ResponseReturnValue:
    """Buffered location fixes, oldest first; fixes that jump faster than any courier are
    refused (with the reason) and the newest good one becomes the courier's position."""
    courier_id = str(current_principal().subject)
    _active_courier(redis_client(), courier_id)
    items: list[Any] = PingsBody.read().pings
    client = redis_client()
    current = now()
    last = positions(client).get(courier_id)
    previous = (last.lat, last.lng, last.at) if last else None
    accepted, rejected = 0, []
    for index, item in enumerate(items):
        reason, fix = _check_ping(item, previous, current)
        if reason is not None:
            rejected.append({"index": index, "reason": reason})
            continue
        assert fix is not None
        previous, accepted = fix, accepted + 1
    if accepted and previous is not None:
        record_position(client, courier_id, previous[0], previous[1], previous[2])
    return jsonify(accepted=accepted, rejected=rejected)


Fix = tuple[float, float, datetime]


def _check_ping(
    item: Any, previous: Fix | None, current: datetime
) -> tuple[str | None, Fix | None]:
    fix = FixBody.judged(item)
    if isinstance(fix, str):
        return fix, None
    lat, lng, at = fix.lat, fix.lng, fix.at
    if at > current + timedelta(minutes=1) or at < current - timedelta(hours=12):
        return "at is in the future or more than 12 hours old", None
    if previous is not None:
        seconds = (at - previous[2]).total_seconds()
        if seconds < 0:
            return "older than the last accepted fix", None
        metres = haversine_m(previous[0], previous[1], lat, lng)
        if metres > MAX_SPEED_MPS * max(seconds, 1.0):
            return f"a jump of {metres:.0f} m in {seconds:.0f} s: faster than any courier", None
    return None, (lat, lng, at)
