"""The OpenAPI 3 document of the public API, written by hand and checked by the tests."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

from dispatch.orders import FULFILMENTS, MAX_QTY, STATUSES
from dispatch.storage.tokens import ROLES
from geo.addresses import MAX_QUERY_LENGTH
from geo.stores import STORE_KINDS
from geo.streets import STREET_CLASSES
from web import addresses
from web.bodies import (
    MAX_COURIER_ID_LEN,
    MAX_ID_LEN,
    BatchOrdersBody,
    Body,
    CancelBody,
    CollectBody,
    CourierBody,
    CourierEventBody,
    DeactivateBody,
    OrderBody,
    PinBody,
    PingsBody,
    PositionBody,
    ReorderBody,
    RotationBody,
    ShiftBody,
    StatusChangeBody,
    StockBody,
    TokenBody,
    body_models,
    schema_of,
)
from web.limits import is_public, rate_limit_bucket
from web.params import SAFE_ID
from web.stores import DEFAULT_LIMIT, DEFAULT_RADIUS_M, MAX_LIMIT, MAX_PAGE, MAX_RADIUS_M

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
MOMENT: Schema = {"type": "string", "format": "date-time"}
ID: Schema = {"type": "string", "pattern": SAFE_ID, "minLength": 1, "maxLength": MAX_ID_LEN}
STORE: Schema = {"$ref": "#/components/schemas/Store"}
ORDER: Schema = {"$ref": "#/components/schemas/Order"}
META: Schema = {"$ref": "#/components/schemas/Meta"}
STREET_CLASS: Schema = {"type": "string", "enum": list(STREET_CLASSES)}


def _object(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _array(items: Schema, **limits: int) -> Schema:
    return {"type": "array", "items": items, **limits}


def body_ref(model: type[Body]) -> Schema:
    """Where the document keeps a body's schema: under components/schemas, by its model's name
    (see :func:`body_components`)."""
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def body_components(paths: dict[str, Any]) -> dict[str, Schema]:
    """The schemas of the bodies ``paths`` read, from their models, and those they refer to
    (pydantic's $defs, referred to as #/components/schemas/<Name>)."""
    models = body_models()
    found: dict[str, Schema] = {}
    for operations in paths.values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if body is None:
                continue
            name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            schema, refers_to = schema_of(models[name])
            for each, shown in {name: schema, **refers_to}.items():
                assert found.setdefault(each, shown) == shown, f"two schemas named {each}"
    return found


def _json(schema: Schema, media_type: str = "application/json") -> Schema:
    return {"content": {media_type: {"schema": schema}}}


def _query(name: str, schema: Schema, text: str, *, required: bool = False) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STRING}


def _op(
    summary: str,
    ok: Schema | None = None,
    *,
    errors: tuple[int, ...] = (),
    parameters: tuple[Schema, ...] = (),
    body: type[Body] | None = None,
    body_required: bool = True,
    description: str | None = None,
    ok_status: int = 200,
    media_type: str = "application/json",
) -> Schema:
    """One operation: its 2xx answer (a JSON schema, or none), the 4xx errors it can give and
    the model of the body it reads (its schema in components/schemas, from the model)."""
    success: Schema = {"description": summary, **(_json(ok, media_type) if ok else {})}
    responses = {str(ok_status): success} | {
        str(code): {"$ref": "#/components/responses/Error"} for code in errors
    }
    operation: Schema = {"summary": summary, "responses": responses}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = {"required": body_required, **_json(body_ref(body))}
    return operation


STORE_SCHEMA = _object(
    ("id", "name", "brand", "kind", "partner", "lat", "lng", "open_now"),
    id=STRING,
    name=STRING,
    brand=STRING,
    kind={"type": "string", "enum": list(STORE_KINDS)},
    partner={"type": "boolean"},
    lat={"type": "number", "minimum": -90, "maximum": 90},
    lng={"type": "number", "minimum": -180, "maximum": 180},
    address=STRING,
    opening_hours={"type": ["string", "null"], "description": "OSM opening_hours"},
    timezone={"type": "string", "description": "IANA zone the hours are read in"},
    open_now={"type": ["boolean", "null"], "description": "null when hours are unknown"},
    prep_time_s=INTEGER,
    capacity_per_hour=INTEGER,
    delivery_radius_m=NUMBER,
    delivery_zone={
        "type": ["object", "null"],
        "description": "GeoJSON Polygon or MultiPolygon ([lng, lat]); where set the store "
        "delivers inside it (its edge included) instead of within delivery_radius_m",
    },
    distance_m={"type": "number", "description": "nearby search only"},
)
ADDRESS_HIT = _object(
    ("address", "lat", "lng", "match", "score", "kind", "city", "source"),
    address={**STRING, "description": "normalised, as written in Taiwan: city, district, "
             "street, number 號"},
    address_en={"type": ["string", "null"], "description": "where the street has an English name"},
    lat=NUMBER, lng=NUMBER,
    match={"type": "string", "enum": ["house", "nearest_house", "street", "place"]},
    score={"type": "number", "minimum": 0, "maximum": 1},
    kind={"type": "string", "enum": ["house", "street", "place"]},
    city=STRING, district={"type": ["string", "null"]}, street={"type": ["string", "null"]},
    housenumber={"type": ["string", "null"]}, name={"type": ["string", "null"]},
    source={**STRING, "description": "the OSM element (or street-<city>-<name>)"},
    distance_m={**NUMBER, "description": "from near, when given"},
)  # fmt: skip
META_SCHEMA = _object(
    catalogue_version={"type": ["integer", "null"]}, at=MOMENT, attribution=STRING
)
WINDOW: Schema = {
    "type": ["object", "null"], "properties": {"from": MOMENT, "to": MOMENT},
    "description": "a scheduled order's delivery window: deliver_at ± 15 min",
}  # fmt: skip
LINE = _object(
    ("sku", "qty"), sku=STRING, qty={"type": "integer", "minimum": 1, "maximum": MAX_QTY}
)
ORDER_SCHEMA = _object(
    id=STRING,
    channel=STRING,
    external_id=STRING,
    status={"type": "string", "enum": list(STATUSES)},
    store_id=STRING,
    taken_at_store={
        "type": ["string", "null"],
        "description": "the store the order named (taken there, or chosen by the shopper): "
        "it fulfils it",
    },
    fulfilment={"type": "string", "enum": list(FULFILMENTS)},
    campaign={"type": ["string", "null"]},
    customer=_object(lat=NUMBER, lng=NUMBER, address=STRING),
    contact={"type": "string", "description": "the shopper's phone as given (empty if none)"},
    items=_array(LINE),
    total_cents=INTEGER,
    created_at=MOMENT,
    promised_by=MOMENT
    | {"description": "created_at + 60 min; a scheduled order: the end of its window"},
    deliver_at={
        "type": ["string", "null"],
        "format": "date-time",
        "description": "a scheduled order's time (null: within the hour)",
    },
    delivery_window=WINDOW,
    ready_by={
        "type": ["string", "null"],
        "format": "date-time",
        "description": "scheduled: when the store must have it packed",
    },
    prepare_from={
        "type": ["string", "null"],
        "format": "date-time",
        "description": "scheduled: when the store starts preparing it",
    },
    cancellation={
        "type": "object",
        "description": "a cancelled order: by (shopper, tracking_link, staff), reason (may be "
        "empty) and at",
    },
    match={"type": "object", "description": "why this store; why nearer ones were passed over"},
    events=_array(_object(status=STRING, at=MOMENT, note=STRING)),
)
ERROR_SCHEMA = _object(
    ("error",),
    error=_object(
        ("code", "message", "details"), code=STRING, message=STRING, details={"type": "object"}
    ),
)

NEARBY_PARAMETERS = (
    _query("lat", {"type": "number", "minimum": -90, "maximum": 90},
           "Latitude, WGS84 degrees", required=True),
    _query("lng", {"type": "number", "minimum": -180, "maximum": 180},
           "Longitude, WGS84 degrees", required=True),
    _query("radius_m", {"type": "number", "minimum": 0, "maximum": MAX_RADIUS_M,
                        "default": DEFAULT_RADIUS_M}, "Search radius in metres"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                     "default": DEFAULT_LIMIT}, "At most this many stores"),
    _query("kind", {"type": "string", "enum": list(STORE_KINDS)},
           "Only these kinds (repeat or comma-separate)"),
    _query("brand", STRING, "Only these brands, case-insensitive (must exist in the catalogue)"),
    _query("partner", {"type": "boolean"}, "Only partner (or non-partner) stores"),
    _query("open_now", {"type": "boolean"},
           "true: only stores open at `at`; false or absent: no filter"),
    _query("sku", STRING,
           "Only stores with every one of these skus in stock (repeat or comma-separate; up to 20)"),
    _query("at", MOMENT, "The moment open_now is evaluated at (default now; UTC if no offset)"),
    _query("delivers_to", {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$"},
           "lat,lng: only stores that deliver there (inside the store's delivery_zone, or "
           "within its delivery_radius_m where it has none)"),
)  # fmt: skip


NULLABLE_SHARE: Schema = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
GROUP_FIGURES: dict[str, Schema] = {
    "orders": INTEGER, "revenue_cents": INTEGER, "cancelled": INTEGER, "shoppers": INTEGER,
    "new_shoppers": INTEGER, "returning_shoppers": INTEGER,
    "repeat_rate_30d": NULLABLE_SHARE, "on_time_share": NULLABLE_SHARE,
}  # fmt: skip


def _groups(what: str) -> Schema:
    figures = {"type": "object", "properties": GROUP_FIGURES}
    return {"type": "object", "description": f"{what} -> its figures",
            "additionalProperties": figures}  # fmt: skip


NEXT_CURSOR: Schema = {
    "type": ["string", "null"],
    "description": "the cursor of the next page; null on the last",
}
CURSOR = _query("cursor", {"type": "string", "maxLength": 256},
                "Continue after this page (next_cursor of the page before)")  # fmt: skip


def _store_paths() -> dict[str, Schema]:
    page = _object(stores=_array(STORE), count=INTEGER, total=INTEGER,
                   next_after={"type": ["string", "null"]}, meta=META)  # fmt: skip
    return {
        "/api/v1/stores/nearby": {"get": _op(
            "Stores near a point, nearest first",
            _object(("stores", "count", "meta"), stores=_array(STORE), count=INTEGER, meta=META),
            errors=(400,), parameters=NEARBY_PARAMETERS,
            description="Exact: the same stores in the same order as a haversine scan of the "
            "whole catalogue (ties broken by id).",
        )},
        "/api/v1/stores/{store_id}": {"get": _op(
            "One store", _object(store=STORE, meta=META), errors=(404,),
            parameters=(_path("store_id"),),
        )},
        "/api/v1/stores": {"get": _op(
            "The catalogue in id order, page by page", page, errors=(400,),
            parameters=(
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                 "default": 100}, "Page size"),
                _query("after", STRING, "Continue after this id (next_after)"),
            ),
        )},
        "/api/v1/stores/{store_id}/orders": {"get": _op(
            "Store staff: the store's orders, newest first, page by page",
            _object(orders=_array(ORDER), count=INTEGER, next_cursor=NEXT_CURSOR),
            errors=(400, 404),
            parameters=(
                _path("store_id"),
                _query("status", {"type": "string", "enum": list(STATUSES)},
                       "Only orders in this status"),
                _query("fulfilment", {"type": "string", "enum": list(FULFILMENTS)},
                       "Only deliveries, or only pick-ups at the counter"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                       "At most this many"),
                CURSOR,
            ),
            description="A scheduled order carries deliver_at, its window, ready_by and "
            "prepare_from (when to start on it). A page reads at most 1,000 orders: filtered "
            "by status it may come back short, with a next_cursor to read on.",
        )},
        "/api/v1/stores/{store_id}/stats": {"get": _op(
            "A merchant's figures, overall and per channel, fulfilment and campaign",
            _object((), **GROUP_FIGURES, by_channel=_groups("channel"),
                    by_fulfilment=_groups("fulfilment (delivery, pickup)"),
                    by_campaign=_groups("campaign code (orders that carry one)"),
                    delivered=INTEGER, collected=INTEGER, expired=INTEGER,
                    mean_delivery_s={"type": ["number", "null"]}),
            errors=(400, 404),
            description="Orders, revenue (cancelled, failed and expired orders bring none), "
            "cancellations, shoppers (orders placed with a shopper token) split into new (their "
            "first purchase at this store in the last 90 days falls in the period) and "
            "returning, the repeat rate (share of the shoppers who bought again at the store "
            "within 30 days of their first order of the group in the period) and the on-time "
            "share (a delivery delivered, a pick-up ready at the counter, by promised_by; over "
            "those that got there).",
            parameters=(
                _path("store_id"),
                _query("from", MOMENT, "Start (default: a day before `to`)"),
                _query("to", MOMENT, "End, exclusive (default: now)"),
            ),
        )},
        "/api/v1/stores/{store_id}/stock": {
            "get": _op("The store's stock levels", _object(store_id=STRING, stock={"type": "object"}),
                       errors=(404,), parameters=(_path("store_id"),)),
            "post": _op(
                "Push stock in bulk: mode set (levels) or adjust (deltas, all or nothing)",
                _object(store_id=STRING, stock={"type": "object"}), errors=(400, 404, 409),
                parameters=(_path("store_id"),),
                body=StockBody,
            ),
        },
        "/api/v1/map/streets": {"get": _op(
            "Base map: the drivable streets of the served cities' OSM extracts, as GeoJSON lines",
            _object(type=STRING, attribution=STRING, features=_array(_object(
                geometry=_object(type=STRING, coordinates=_array(_array(NUMBER))),
                properties={"type": "object", "properties": {"class": STREET_CLASS}}))),
            errors=(400,), media_type="application/geo+json",
            description="Coordinates [lng, lat] to 5 decimals; empty without ROAD_EXTRACT. "
            "Cached by ETag (If-None-Match gives a 304).",
            parameters=(_query("bbox", STRING, "west,south,east,north: only streets touching "
                                               "this box (default: all)"),),
        )},
        "/api/v1/addresses": {"get": _op(
            "Address search: a street, house number or place name to positions, best first",
            _object(("query", "count", "results"), query=STRING, count=INTEGER,
                    attribution=STRING, results=_array(ADDRESS_HIT)),
            errors=(400,),
            description="From the OpenStreetMap address data of the demo cities "
            "(data/demo_addresses.csv). Chinese or Latin spellings (福聯街23號, No. 23, Fulian "
            "St), spacing and full-width digits forgiven (NFKC). match: house (that number), "
            "nearest_house (the data lacks the number: the nearest on that street, same side "
            "first), street, place (by name). A city named in q keeps hits to it.",
            parameters=(
                _query("q", {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH},
                       "The text to look up", required=True),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": addresses.MAX_LIMIT,
                                 "default": addresses.DEFAULT_LIMIT}, "At most this many"),
                _query("near", {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$"},
                       "lat,lng: among hits that match alike, nearer first (up to 0.1 off the "
                       "score at 10 km); each hit then has distance_m"),
            ),
        )},
    }  # fmt: skip


def _order_paths() -> dict[str, Schema]:
    one = _object(order=ORDER)
    result = _object(index=INTEGER, status=INTEGER, order=ORDER, error={"type": "object"})
    cancel = _op(
        "Cancel, with a reason kept on the order; reserved stock is released",
        one,
        errors=(400, 404, 409, 413),
        parameters=(_path("order_id"),),
        body=CancelBody,
        body_required=False,
        description="A shopper cancels their own order until the store starts preparing it "
        "(then 409 too_late_to_cancel with details.status); staff until pick-up. The body is "
        "optional. The order keeps cancellation: {by, reason, at}.",
    )
    reorder = _op(
        "Shopper: order again: a new order with the same items and address",
        _object(order=ORDER, tracking={"type": "object"}),
        ok_status=201,
        errors=(400, 404, 409, 413, 422),
        parameters=(
            _path("order_id"),
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": MAX_ID_LEN},
            },
        ),
        body=ReorderBody,
        body_required=False,
        description="Same items, address, channel, note and fulfilment, at the store the "
        "shopper chose if any; no campaign. "
        "Matched afresh, as POST /api/v1/orders (422 as there); for now, or for "
        "deliver_at. With an Idempotency-Key a retry gets the same new order "
        "(Idempotent-Replayed: true); without one each call orders again. Another shopper's "
        "order is a 404.",
    )
    return {
        "/api/v1/orders": {"get": _op(
            "Shopper: my own orders, newest first, page by page",
            _object(("orders", "count", "next_cursor"), orders=_array(ORDER), count=INTEGER,
                    next_cursor=NEXT_CURSOR),
            errors=(400,),
            parameters=(_query("limit", {"type": "integer", "minimum": 1, "maximum": 100,
                                         "default": 20}, "At most this many"), CURSOR),
            description="Shopper tokens only (403 for any other): each sees their own orders.",
        ), "post": _op(
            "Place an order from any channel", one, ok_status=201,
            errors=(400, 404, 409, 413, 422),
            body=OrderBody,
            parameters=({"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "maxLength": MAX_ID_LEN}},),
            description="Matched to the nearest partner store (by ride time) that is open, stocks "
            "every item, has capacity left this hour, delivers to the address and can keep the "
            "one-hour promise; stock is reserved and the order stored atomically. A retry with the "
            "same Idempotency-Key, or the same channel and external_id, returns the same order; "
            "the same key with another body is a 409 idempotency_conflict, and one whose first "
            "copy is still being placed a 409 request_in_progress (retry after Retry-After). "
            "An order taken at a store (channel store with store_id; a store token's store and "
            "phone orders) goes to that store or is refused with its reasons, never elsewhere; "
            "store tokens may send only these two channels (403), and another store's id is a "
            "404. An order naming store_id on another channel goes to the store the shopper "
            "chose or is refused with its reasons and details.nearest_that_could (the nearest "
            "store that could serve it, or null). fulfilment pickup: the nearest open partner "
            "store with every item and capacity left (no delivery radius, no courier), ready "
            "within the hour; it is never planned. 422: unknown_sku, unknown_store, or "
            "no_store_can_fulfil with each candidate's reasons.",
        )},
        "/api/v1/orders/batch": {"post": _op(
            "Bulk intake: up to 200 orders matched together by the OR-Tools batch matcher",
            _object(results=_array(result), accepted=INTEGER, refused=INTEGER),
            errors=(400, 413),
            body=BatchOrdersBody,
            description="Each order succeeds or fails on its own; results come in the order "
            "sent, each with the status a single POST would have answered. An order repeating "
            "the channel and external_id of an earlier one in the batch is that order again "
            "(same body) or a 409 idempotency_conflict naming it in details.same_as_index "
            "(another body), refused before anything of it is written.",
        )},
        "/api/v1/orders/rebalance": {"post": _op(
            "Re-match orders not yet being prepared with the batch matcher; move those it improves",
            _object(considered=INTEGER, ride_before_s=NUMBER, ride_after_s=NUMBER,
                    solver_status=STRING,
                    moves=_array(_object(order_id=STRING, from_store=STRING, to_store=STRING))),
            description="Staying is the default: orders move only when that strictly improves "
            "(first orders at a store that can fulfil them, then total ride, then fewest moves), "
            "never to break a tie; a region's moves land together, stock and slots with them, or "
            "not at all; orders taken at a store stay there; no order is dropped.",
        )},
        "/api/v1/orders/{order_id}": {"get": _op(
            "Track one order", one, errors=(404,), parameters=(_path("order_id"),),
        )},
        "/api/v1/orders/{order_id}/status": {"post": _op(
            "Move an order: accepted, preparing, ready, picked_up, delivered, collected (or "
            "cancelled, failed, expired)",
            _object(order=ORDER, changed={"type": "boolean"}), errors=(400, 404, 409),
            parameters=(_path("order_id"),),
            description="A pick-up of an order not yet ready records the preparing and ready it "
            "implies (a ready, the preparing); a preparing or ready sent for an order already "
            "past it is a 200 with changed false (a cancelled or failed order is still a 409). "
            "picked_up and delivered are for delivery orders only, collected and expired for "
            "pick-up orders only (409 otherwise); store staff send preparing, ready, cancelled "
            "or failed, and hand pick-ups over with POST .../collect.",
            body=StatusChangeBody,
        )},
        "/api/v1/orders/{order_id}/cancel": {"post": cancel},
        "/api/v1/orders/{order_id}/reorder": {"post": reorder},
        "/api/v1/orders/{order_id}/collect": {"post": _op(
            "Store staff: hand a pick-up order over against the shopper's pick-up code", one,
            errors=(400, 404, 409, 422, 423), parameters=(_path("order_id"),),
            body=CollectBody,
            description="The pick-up code is the order's four digits (tracking.delivery_code, "
            "and pickup.code in the tracking view). The order becomes collected (from ready, or "
            "recording the preparing and ready it implies). A wrong code is a 422 "
            "wrong_pickup_code with tries_left; after five the hand-over is locked (423 "
            "pickup_code_locked) until a dispatcher unlocks it (POST .../unlock-code). A "
            "delivery order is a 409 not_a_pickup, an ended one a 409 illegal_transition. A "
            "ready pick-up nobody collects expires PICKUP_HOLD_SECONDS (default 2 h) after "
            "ready, and its stock goes back.",
        )},
        "/api/v1/orders/{order_id}/unlock-code": {"post": _op(
            "Dispatchers: lift the lock five wrong delivery codes put on an order",
            _object(order_id=STRING, was_locked={"type": "boolean"},
                    lock={"type": ["object", "null"]}),
            errors=(404,), parameters=(_path("order_id"),),
        )},
        "/api/v1/products": {"get": _op(
            "The product catalogue (prices in cents)",
            _object(products=_array(_object(sku=STRING, name=STRING, price_cents=INTEGER,
                                            category=STRING, age_restricted={
                                                "type": "boolean", "description": "adults "
                                                "only: the courier checks the buyer's ID"}))),
        )},
    }  # fmt: skip


def _dispatch_paths() -> dict[str, Schema]:
    stop = _object(
        order_id=STRING,
        kind={"type": "string", "enum": ["pickup", "delivery"]},
        lat=NUMBER,
        lng=NUMBER,
        arrive_at=MOMENT,
        start_at=MOMENT,
        depart_at=MOMENT,
        late_s=INTEGER,
    )
    plan = {
        "type": ["object", "null"],
        "properties": {
            "version": INTEGER,
            "planned_at": MOMENT,
            "solve_s": NUMBER,
            "routes": _array(_object(courier_id=STRING, stops=_array(stop))),
            "unassigned": {"type": "object", "description": "order id -> reason"},
            "late_orders": {"type": "object", "description": "order id -> seconds late"},
            "on_time": {**INTEGER, "description": "orders planned to arrive by their promise"},
            "late": {**INTEGER, "description": "orders planned to arrive after their promise"},
            "late_minutes": {**NUMBER, "description": "minutes past the promise, summed"},
        },
    }
    courier = _object(
        ("id", "vehicle", "capacity", "shift_start", "shift_end", "home"),
        id=ID | {"maxLength": MAX_COURIER_ID_LEN},
        name=STRING,
        vehicle={"type": "string", "enum": ["walk", "bicycle", "e-bike", "scooter", "car"]},
        capacity={"type": "integer", "minimum": 1, "maximum": 20},
        shift_start=MOMENT,
        shift_end=MOMENT,
        home=_object(("lat", "lng"), lat=NUMBER, lng=NUMBER),
    )
    shift = _object(("id", "start", "end"), id=STRING | {"description": "the start in UTC, "
                    "e.g. 20261122T0100Z"}, start=MOMENT, end=MOMENT)  # fmt: skip
    shown = {**courier, "properties": courier["properties"] | {
        "shifts": _array(shift) | {"description": "every shift, the registered one too"},
        "active": {"type": "boolean", "description": "false: deactivated, never planned"},
        "deactivated_at": {"type": ["string", "null"], "format": "date-time"},
        "deactivation_reason": STRING,
        "position": {"type": ["object", "null"], "description": "the last ping"},
    }}  # fmt: skip
    courier_path = _path("courier_id")
    return {
        "/api/v1/couriers": {
            "get": _op("Registered couriers (deactivated ones too) with their last position",
                       _object(couriers=_array(shown), count=INTEGER), errors=(400,),
                       parameters=(_query("active", {"type": "boolean"},
                                          "Only active (true) or deactivated (false) couriers"),)),
            "post": _op("Register or update a courier", _object(courier=shown), ok_status=201,
                        errors=(400, 413), body=CourierBody,
                        description="Registering again keeps whether the courier is active and "
                        "its other days' shifts (those the new shift overlaps give way)."),
        },
        "/api/v1/couriers/{courier_id}": {"get": _op(
            "One courier: profile, shifts, active, last position (a courier token: its own)",
            _object(courier=shown), errors=(404,), parameters=(courier_path,),
        )},
        "/api/v1/couriers/{courier_id}/deactivate": {"post": _deactivate_op(shown, courier_path)},
        "/api/v1/couriers/{courier_id}/reactivate": {"post": _op(
            "Reactivate a courier: planned again in its shifts from the next plan",
            _object(courier=shown, changed={"type": "boolean"}), errors=(404,),
            parameters=(courier_path,),
        )},
        "/api/v1/couriers/{courier_id}/shifts": {"post": _op(
            "Add a shift on another day (or later today) beside the registered one",
            _object(courier_id=STRING, shift=shift, shifts=_array(shift)), ok_status=201,
            errors=(400, 404, 409, 413), parameters=(courier_path,),
            body=ShiftBody,
            description="At most 14 days ahead, 16 h long, and not over yet (400 naming start "
            "or end); one overlapping a shift the courier has is a 409 shift_overlap with "
            "details.shift_id; 30 shifts ahead at most (409 too_many_shifts). Shifts that ended "
            "a week ago are dropped when shifts change.",
        )},
        "/api/v1/couriers/{courier_id}/shifts/{shift_id}": {"delete": _op(
            "Remove a shift added for another day",
            _object(courier_id=STRING, removed=STRING, shifts=_array(shift)),
            errors=(404, 409), parameters=(courier_path, _path("shift_id")),
            description="404 shift_not_found; the registered shift is a 409 registered_shift "
            "(register the courier again to change it).",
        )},
        "/api/v1/couriers/{courier_id}/position": {"post": _op(
            "A location ping", _object(courier_id=STRING, position=_object(lat=NUMBER, lng=NUMBER)),
            errors=(400, 404), parameters=(_path("courier_id"),),
            body=PositionBody,
        )},
        "/api/v1/dispatch/plan": {"get": _op(
            "The current plan: each courier's stops with times; unassigned orders with reasons",
            _object(plan=plan),
        )},
        "/api/v1/dispatch/plan.geojson": {"get": _op(
            "The current plan as GeoJSON: one LineString per courier route",
            {"type": "object", "description": "a GeoJSON FeatureCollection"},
            media_type="application/geo+json",
        )},
        "/api/v1/dispatch/replan": {"post": _op(
            "Re-plan now (the worker also re-plans every few seconds and on new orders)",
            _object(plan=plan), errors=(503,),
        )},
        "/api/v1/dispatch/pins/{order_id}": {
            "put": _op("Pin an order to a courier; every later plan keeps it",
                       _object(order_id=STRING, courier_id=STRING), errors=(400, 404, 409, 422),
                       parameters=(_path("order_id"),),
                       body=PinBody,
                       description="422 pin_infeasible when no plan could keep the pin; "
                       "details.reason: off_shift, after_shift (cannot deliver before the shift "
                       "ends), late (after the promise, unless allow_late), capacity, "
                       "on_board_other, not_plannable"),
            "delete": _op("Unpin an order", _object(order_id=STRING, courier_id={"type": "null"}),
                          errors=(404,), parameters=(_path("order_id"),),
                          description="404 pin_not_found when the order is not pinned"),
        },
    }  # fmt: skip


def _deactivate_op(shown: Schema, courier_path: Schema) -> Schema:
    operation = _op(
        "Deactivate a courier: kept for history, never planned again until reactivated",
        _object(courier=shown, changed={"type": "boolean"}, released=_array(STRING)),
        errors=(400, 404, 409, 413),
        parameters=(courier_path,),
        body=DeactivateBody,
        body_required=False,
        description="Its pins are dropped and its planned orders (released) go back to "
        "unassigned in the plan in force at once, for the next plan to give to others; its "
        "phone gets 403 courier_inactive. A courier with goods on board is a 409 "
        "courier_carrying (details.order_ids): deliver or fail them first. Deactivating an "
        "inactive courier changes nothing (changed false). The body may be left out.",
    )
    return operation


def _people_paths() -> dict[str, Any]:
    leg = _object(
        order_id=STRING,
        kind={"type": "string", "enum": ["pickup", "delivery"]},
        status=STRING,
        place=_object(name=STRING, address=STRING, lat=NUMBER, lng=NUMBER),
        items=_array(
            _object(sku=STRING, qty=INTEGER, name=STRING, age_restricted={"type": "boolean"})
        ),
        note=STRING,
        contact={"type": ["string", "null"], "description": "the shopper's phone, masked"},
        id_check_required={
            "type": "boolean",
            "description": "age-restricted items: check the buyer's ID",
        },
        planned_arrival=MOMENT,
        deadline=MOMENT,
        not_before={
            "type": ["string", "null"],
            "format": "date-time",
            "description": "a scheduled order's delivery: its window opens then",
        },
        route=_array(_array(NUMBER, minItems=2, maxItems=2)),
    )
    token = _object(id=STRING, role=STRING, subject={"type": ["string", "null"]}, label=STRING,
                    expires_at={"type": ["string", "null"], "format": "date-time"},
                    expired={"type": "boolean"},
                    issued_at=MOMENT,
                    rotated_at=MOMENT,
                    previous_valid_until={"type": ["string", "null"], "format": "date-time",
                                          "description": "an old secret in its grace"})  # fmt: skip
    place = _object(("lat", "lng"), lat=NUMBER, lng=NUMBER)
    tracking = _object(
        at=MOMENT,
        order=_object(
            id=STRING,
            status=STRING,
            promised_by=MOMENT,
            created_at=MOMENT,
            items=_array(_object(sku=STRING, qty=INTEGER, name=STRING)),
            steps=_array(_object(status=STRING, at={"type": ["string", "null"]})),
            can_cancel={"type": "boolean"},
            id_check_required={"type": "boolean", "description": "age-restricted items: the "
                               "buyer shows an ID at the door or the counter"},
            events=_array(_object()),
            deliver_at={
                "type": ["string", "null"],
                "format": "date-time",
                "description": "a scheduled order's time",
            },
            delivery_window=WINDOW,
        ),
        store=_object(
            id=STRING, name=STRING, address=STRING, lat=NUMBER, lng=NUMBER, timezone=STRING
        ),
        destination=place,
        courier=_object(assigned={"type": "boolean"}, position={"type": ["object", "null"]}),
        estimated_arrival={"type": ["string", "null"]},
        delivery_code=STRING,
        fulfilment={"type": "string", "enum": list(FULFILMENTS)},
        pickup={"type": ["object", "null"], "description": "pick-up orders only",
                "properties": {"ready_for_pickup": {"type": "boolean"},
                               "store_name": {"type": ["string", "null"]},
                               "store_address": {"type": ["string", "null"]},
                               "code": STRING,
                               "collect_by": {"type": ["string", "null"], "format": "date-time",
                                              "description": "when a ready order expires"}}},
    )  # fmt: skip
    return {
        "/api/v1/courier/legs": {"get": _op(
            "Courier: my stops in planned order, with items, deadline and the way there",
            _object(courier_id=STRING, plan_version={"type": ["integer", "null"]},
                    legs=_array(leg)),
            errors=(400, 401, 403, 404),
            parameters=(_query("courier_id", STRING, "staff: whose legs (required)"),),
        )},
        "/api/v1/courier/events": {"post": _op(
            "Courier: arrived, picked up, delivered (with proof) or failed (with a reason); "
            "a resent event_id gets the first answer",
            _object(event_id=STRING, order_id=STRING, type=STRING, status=STRING,
                    replayed={"type": "boolean"},
                    return_to={"type": ["object", "null"],
                               "description": "a failed ID check: the store the goods go back "
                               "to"}),
            errors=(400, 401, 403, 404, 409, 422, 423), body=CourierEventBody,
            description="The same event_id with another body is a 409 idempotency_conflict "
            "(event ids are unique within their order). A wrong code is a 422 "
            "wrong_delivery_code with tries_left; after five the delivery is locked (423 "
            "delivery_code_locked, a photo too) until a dispatcher unlocks it. An order with "
            "age-restricted items is delivered only with id_checked true (else a 422 "
            "id_check_required naming id_checked). A deactivated courier gets 403 "
            "courier_inactive (legs and pings too).",
        )},
        "/api/v1/courier/pings": {"post": _op(
            "Courier: buffered location fixes, oldest first; impossible jumps are refused",
            _object(accepted=INTEGER, rejected=_array(_object(index=INTEGER, reason=STRING))),
            errors=(400, 401, 403), body=PingsBody,
        )},
        "/api/v1/dispatch/overview": {"get": _op(
            "Dispatcher screen: couriers, open orders with their risk, unassigned reasons, KPIs",
            _object(at=MOMENT, time_zone=STRING, plan=_object(), orders=_array(_object()),
                    couriers=_array(_object()), stores=_array(_object()), kpis=_object(),
                    alarms=_array(_object(kind=STRING, order_id=STRING,
                                          courier_id={"type": ["string", "null"]},
                                          wrong_tries=INTEGER, at=MOMENT, message=STRING))),
            errors=(401, 403),
        )},
        "/api/v1/dispatch/stream": {"get": _op(
            "Dispatcher screen, live: Server-Sent Events, an 'overview' event after each change "
            "(token as ?access_token= where a browser cannot set headers)",
            errors=(401, 403),
            parameters=(_query("access_token", STRING, "the dispatcher's token"),),
        )},
        "/api/v1/track/{token}": {"get": _op(
            "Shopper tracking by the order's own link: status and steps, items, store, courier, "
            "estimated arrival",
            tracking,
            errors=(400, 404), parameters=(_path("token"),),
            description="destination is the drop-off rounded to 3 decimals (about 100 m), for "
            "the map: the link never gives the address. order.can_cancel is true until the store "
            "starts preparing.",
        )},
        "/api/v1/track/{token}/cancel": {"post": _op(
            "Shopper: cancel by the order's own link, until the store starts preparing",
            tracking,
            errors=(400, 404, 409),
            parameters=(_path("token"),),
            description="The same cancellation as POST /api/v1/orders/{id}/cancel (stock goes "
            "back), narrowed to an order still accepted; later a 409 too_late_to_cancel.",
        )},
        "/api/v1/admin/tokens": {
            "get": _op("Admin: every token, or one role's (never the secrets nor their hashes)",
                       _object(tokens=_array(token), count=INTEGER), errors=(400, 401, 403),
                       parameters=(_query("role", {"type": "string", "enum": list(ROLES)},
                                          "Only tokens of these roles (repeat or "
                                          "comma-separate)"),)),
            "post": _op("Admin: issue a token; the secret is shown in this answer only",
                        _object(token=STRING, id=STRING, role=STRING,
                                expires_at={"type": ["string", "null"], "format": "date-time"}),
                        ok_status=201,
                        errors=(400, 401, 403, 422),
                        body=TokenBody,
                        description="A store token's subject must be a store of the catalogue, "
                        "a courier token's a registered courier (422 unknown_subject). Without "
                        "ttl_s or expires_at a token lasts until revoked; after its expiry it "
                        "is a 401 token_expired."),
        },
        "/api/v1/admin/tokens/{token_id}/rotate": {"post": _op(
            "Admin: a new secret for a token (shown in this answer only)",
            _object(token=STRING, id=STRING, role=STRING, expires_at={"type": ["string", "null"]},
                    rotated_at=MOMENT, previous_valid_until={"type": ["string", "null"]}),
            errors=(400, 401, 403, 404, 409, 413), parameters=(_path("token_id"),),
            body=RotationBody,
            description="Same id, role, subject and label. The old secret stops at once, or "
            "after grace_s (never past its own expiry); a second rotation ends the first one's "
            "grace. The expiry stays unless ttl_s or expires_at is given; an expired token "
            "rotated without one is a 409 token_expired.",
        )},
        "/api/v1/admin/tokens/{token_id}": {"delete": _op(
            "Admin: revoke a token", _object(id=STRING, revoked={"type": "boolean"}),
            errors=(401, 403, 404), parameters=(_path("token_id"),),
        )},
    }  # fmt: skip


CHECK = _object(("ok",), ok={"type": "boolean"}, message=STRING)


def _ops_paths() -> dict[str, Any]:
    """Liveness, readiness and the Prometheus figures (see docs/operations.md)."""
    metrics = _op(
        "Prometheus figures (text format): an admin token or the scraper's METRICS_TOKEN",
        STRING,
        media_type="text/plain",
        errors=(400, 401, 403),
        description="Every web worker's counters added up, and gauges read from Redis at "
        "scrape time. METRICS_PORT serves the same without a token on a port of "
        "its own.",
    )
    metrics["security"] = [{"bearer": []}]
    ready = _op("Readiness: Redis reachable, this worker's catalogue index built, key layout "
                "checked; a 503 names the failing checks",
                _object(("status", "checks"), status=STRING,
                        checks=_object(redis=CHECK, catalogue=CHECK, layout=CHECK)),
                errors=(400, 503))  # fmt: skip
    return {
        "/healthz": {"get": _op("Liveness: the process answers (Redis is not asked)",
                                _object(("status",), status=STRING,
                                        catalogue_version={"type": ["integer", "null"]}),
                                errors=(400,))},
        "/readyz": {"get": ready},
        "/metrics": {"get": metrics},
    }  # fmt: skip


def _route_views() -> dict[tuple[str, str], Any]:
    """Each operation's view ((path as the document writes it, method) -> view function): the
    routes say which are public, so the document is made in an app context."""
    views = {}
    for rule in current_app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            views[(path, method.lower())] = current_app.view_functions[rule.endpoint]
    return views


def _with_access_rules(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation's token requirement and the 401/403/429 answers that come with it, as its
    route declares them: public (anyone, rate limited per address) where it is limited in the
    public bucket (:mod:`web.limits`), else a token; a 429 where it is rate limited."""
    error = {"$ref": "#/components/responses/Error"}
    views = _route_views()
    for path, operations in paths.items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            view = views.get((path, method))
            if rate_limit_bucket(view) is not None:
                responses.setdefault("429", error)
            if is_public(view):
                operation["security"] = []
                continue
            operation["security"] = [{"bearer": []}]
            responses.setdefault("401", error)
            responses.setdefault("403", error)
    return paths


def openapi_document() -> dict[str, Any]:
    paths = _with_access_rules(
        _store_paths() | _order_paths() | _dispatch_paths() | _people_paths() | _ops_paths()
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Store discovery and one-hour delivery",
            "version": "1.0.0",
            "description": (
                "Nearby-store search over an H3-indexed catalogue and the order platform. Units: "
                "metres, seconds; JSON uses lat/lng in WGS84. Every client error is a 4xx body "
                '{"error": {"code", "message", "details"}}. A query parameter an operation does '
                "not list is a 400 unknown_parameter; a body field it does not list a 400 naming "
                "it. Store data (c) OpenStreetMap "
                "contributors, ODbL 1.0. Authentication: 'Authorization: Bearer <token>' with a "
                "token of role shopper, store, courier, dispatcher or admin (store search, "
                "products and tracking links need none); 401 without a valid token, 403 for the "
                "wrong role, 404 for another's order, store or courier."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Store": STORE_SCHEMA,
                "Meta": META_SCHEMA,
                "Order": ORDER_SCHEMA,
                "Error": ERROR_SCHEMA,
            }
            | body_components(paths),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "Client error",
                    **_json({"$ref": "#/components/schemas/Error"}),
                }
            },
        },
    }
