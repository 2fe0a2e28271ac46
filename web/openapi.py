"""The OpenAPI 3 document of the public API, written by hand and checked by the tests."""

from __future__ import annotations

from typing import Any

from dispatch.orders import CHANNELS, MAX_LINES, MAX_QTY, STATUSES
from geo.stores import STORE_KINDS
from web.stores import DEFAULT_LIMIT, DEFAULT_RADIUS_M, MAX_LIMIT, MAX_PAGE, MAX_RADIUS_M


def _param(
    name: str, schema: dict[str, Any], text: str, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


_ERROR = {"$ref": "#/components/responses/Error"}

STORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "brand", "kind", "partner", "lat", "lng", "open_now"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "brand": {"type": "string"},
        "kind": {"type": "string", "enum": list(STORE_KINDS)},
        "partner": {"type": "boolean"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lng": {"type": "number", "minimum": -180, "maximum": 180},
        "address": {"type": "string"},
        "opening_hours": {"type": ["string", "null"], "description": "OSM opening_hours"},
        "timezone": {"type": "string", "description": "IANA zone the hours are read in"},
        "open_now": {"type": ["boolean", "null"], "description": "null when hours are unknown"},
        "prep_time_s": {"type": "integer"},
        "capacity_per_hour": {"type": "integer"},
        "delivery_radius_m": {"type": "number"},
        "distance_m": {"type": "number", "description": "nearby search only"},
    },
}

META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "catalogue_version": {"type": ["integer", "null"]},
        "at": {"type": "string", "format": "date-time"},
        "attribution": {"type": "string"},
    },
}


ORDER_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["channel", "external_id", "lat", "lng", "items"],
    "additionalProperties": False,
    "properties": {
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "external_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lng": {"type": "number", "minimum": -180, "maximum": 180},
        "address": {"type": "string", "maxLength": 500},
        "note": {"type": "string", "maxLength": 500},
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_LINES,
            "items": {
                "type": "object",
                "required": ["sku", "qty"],
                "properties": {
                    "sku": {"type": "string"},
                    "qty": {"type": "integer", "minimum": 1, "maximum": MAX_QTY},
                },
            },
        },
    },
}

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "channel": {"type": "string"},
        "external_id": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "store_id": {"type": "string"},
        "customer": {"type": "object"},
        "items": {"type": "array"},
        "total_cents": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "promised_by": {
            "type": "string",
            "format": "date-time",
            "description": "created_at + 60 min",
        },
        "match": {
            "type": "object",
            "description": "why this store, and why nearer ones were passed over",
        },
        "events": {"type": "array"},
    },
}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document() -> dict[str, Any]:
    store_ref = {"$ref": "#/components/schemas/Store"}
    order_ref = {"$ref": "#/components/schemas/Order"}
    meta_ref = {"$ref": "#/components/schemas/Meta"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Store discovery and one-hour delivery",
            "version": "1.0.0",
            "description": (
                "Nearby-store search over an H3-indexed catalogue. Units: metres, seconds; "
                "JSON uses lat/lng in WGS84. Every client error is a 4xx body "
                '{"error": {"code", "message", "details"}}. Store data (c) OpenStreetMap '
                "contributors, ODbL 1.0."
            ),
        },
        "paths": {
            "/api/v1/stores/nearby": {
                "get": {
                    "summary": "Stores near a point, nearest first",
                    "description": (
                        "Exact: the same stores in the same order as a haversine scan of the "
                        "whole catalogue (ties broken by id)."
                    ),
                    "parameters": [
                        _param(
                            "lat",
                            {"type": "number", "minimum": -90, "maximum": 90},
                            "Latitude, WGS84 degrees",
                            required=True,
                        ),
                        _param(
                            "lng",
                            {"type": "number", "minimum": -180, "maximum": 180},
                            "Longitude, WGS84 degrees",
                            required=True,
                        ),
                        _param(
                            "radius_m",
                            {
                                "type": "number",
                                "minimum": 0,
                                "maximum": MAX_RADIUS_M,
                                "default": DEFAULT_RADIUS_M,
                            },
                            "Search radius in metres",
                        ),
                        _param(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_LIMIT,
                                "default": DEFAULT_LIMIT,
                            },
                            "At most this many stores",
                        ),
                        _param(
                            "kind",
                            {"type": "string", "enum": list(STORE_KINDS)},
                            "Only these kinds (repeat or comma-separate)",
                        ),
                        _param(
                            "brand",
                            {"type": "string"},
                            "Only these brands, case-insensitive (must exist in the catalogue)",
                        ),
                        _param(
                            "partner", {"type": "boolean"}, "Only partner (or non-partner) stores"
                        ),
                        _param(
                            "open_now",
                            {"type": "boolean"},
                            "true: only stores open at `at`; false or absent: no filter",
                        ),
                        _param(
                            "sku",
                            {"type": "string"},
                            "Only stores with every one of these skus in stock (repeat or comma-separate; up to 20)",
                        ),
                        _param(
                            "at",
                            {"type": "string", "format": "date-time"},
                            "The moment open_now is evaluated at (default now; UTC if no offset)",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "Stores found",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["stores", "count", "meta"],
                                        "properties": {
                                            "stores": {"type": "array", "items": store_ref},
                                            "count": {"type": "integer"},
                                            "meta": meta_ref,
                                        },
                                    }
                                }
                            },
                        },
                        "400": _ERROR,
                    },
                }
            },
            "/api/v1/stores/{store_id}": {
                "get": {
                    "summary": "One store",
                    "parameters": [
                        {
                            "name": "store_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The store",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"store": store_ref, "meta": meta_ref},
                                    }
                                }
                            },
                        },
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/stores": {
                "get": {
                    "summary": "The catalogue in id order, page by page",
                    "parameters": [
                        _param(
                            "limit",
                            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100},
                            "Page size",
                        ),
                        _param("after", {"type": "string"}, "Continue after this id (next_after)"),
                    ],
                    "responses": {
                        "200": {
                            "description": "A page",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "stores": {"type": "array", "items": store_ref},
                                            "count": {"type": "integer"},
                                            "total": {"type": "integer"},
                                            "next_after": {"type": ["string", "null"]},
                                            "meta": meta_ref,
                                        },
                                    }
                                }
                            },
                        },
                        "400": _ERROR,
                    },
                }
            },
            "/api/v1/orders": {
                "post": {
                    "summary": "Place an order from any channel",
                    "description": (
                        "Matched to the nearest partner store (by ride time) that is open, stocks every "
                        "item, has capacity left this hour, delivers to the address and can keep the "
                        "one-hour promise. Stock is reserved and the order stored atomically. A retry "
                        "with the same Idempotency-Key header, or the same channel and external_id, "
                        "returns the same order; the same key with another body is a 409."
                    ),
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 128},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OrderRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Accepted (or replayed)",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "object", "properties": {"order": order_ref}}
                                }
                            },
                        },
                        "400": _ERROR,
                        "409": _ERROR,
                        "413": _ERROR,
                        "422": {
                            "description": "unknown_sku, or no_store_can_fulfil with each candidate's reasons",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}
                                }
                            },
                        },
                    },
                }
            },
            "/api/v1/orders/batch": {
                "post": {
                    "summary": "Bulk intake: up to 200 orders matched together by the OR-Tools batch matcher",
                    "description": (
                        "Orders compete for stores' capacity and stock; the batch matcher places as many as "
                        "possible with the least ride time. Each order succeeds or fails on its own; results "
                        "come in the order sent, each with the status a single POST would have answered."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["orders"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "orders": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": 200,
                                            "items": {"$ref": "#/components/schemas/OrderRequest"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One result per order",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "results": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "index": {"type": "integer"},
                                                        "status": {"type": "integer"},
                                                        "order": order_ref,
                                                        "error": {"type": "object"},
                                                    },
                                                },
                                            },
                                            "accepted": {"type": "integer"},
                                            "refused": {"type": "integer"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": _ERROR,
                        "413": _ERROR,
                    },
                }
            },
            "/api/v1/orders/rebalance": {
                "post": {
                    "summary": "Re-match orders not yet being prepared with the batch matcher; move those it improves",
                    "description": (
                        "Orders still in `accepted` are matched again as one batch, their own reservations "
                        "counting as free; the assignment in force is the starting point, so the result is "
                        "never worse. Each move carries its stock and slot atomically; no order is dropped."
                    ),
                    "responses": {
                        "200": {
                            "description": "What was moved",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "considered": {"type": "integer"},
                                            "moves": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "order_id": {"type": "string"},
                                                        "from_store": {"type": "string"},
                                                        "to_store": {"type": "string"},
                                                    },
                                                },
                                            },
                                            "ride_before_s": {"type": "number"},
                                            "ride_after_s": {"type": "number"},
                                            "solver_status": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/orders/{order_id}": {
                "get": {
                    "summary": "Track one order",
                    "parameters": [_path("order_id")],
                    "responses": {
                        "200": {
                            "description": "The order",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "object", "properties": {"order": order_ref}}
                                }
                            },
                        },
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/orders/{order_id}/status": {
                "post": {
                    "summary": "Move an order along accepted -> preparing -> ready -> picked_up -> delivered (or cancelled, failed)",
                    "parameters": [_path("order_id")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {
                                        "status": {
                                            "type": "string",
                                            "enum": [
                                                "preparing",
                                                "ready",
                                                "picked_up",
                                                "delivered",
                                                "cancelled",
                                                "failed",
                                            ],
                                        },
                                        "note": {"type": "string", "maxLength": 500},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "The order after the change"},
                        "400": _ERROR,
                        "404": _ERROR,
                        "409": _ERROR,
                    },
                }
            },
            "/api/v1/orders/{order_id}/cancel": {
                "post": {
                    "summary": "Cancel before pick-up; reserved stock is released",
                    "parameters": [_path("order_id")],
                    "responses": {
                        "200": {"description": "The cancelled order"},
                        "404": _ERROR,
                        "409": _ERROR,
                    },
                }
            },
            "/api/v1/stores/{store_id}/orders": {
                "get": {
                    "summary": "Store staff: the store's orders, newest first",
                    "parameters": [
                        _path("store_id"),
                        _param(
                            "status",
                            {"type": "string", "enum": list(STATUSES)},
                            "Only orders in this status",
                        ),
                        _param(
                            "limit",
                            {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                            "At most this many",
                        ),
                    ],
                    "responses": {"200": {"description": "Orders"}, "400": _ERROR, "404": _ERROR},
                }
            },
            "/api/v1/stores/{store_id}/stats": {
                "get": {
                    "summary": "A merchant's figures: orders and revenue per channel, on-time share, mean delivery time",
                    "parameters": [
                        _path("store_id"),
                        _param(
                            "from",
                            {"type": "string", "format": "date-time"},
                            "Start (default: a day before `to`)",
                        ),
                        _param(
                            "to",
                            {"type": "string", "format": "date-time"},
                            "End, exclusive (default: now)",
                        ),
                    ],
                    "responses": {
                        "200": {"description": "Figures for orders created in [from, to)"},
                        "400": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/stores/{store_id}/stock": {
                "get": {
                    "summary": "The store's stock levels",
                    "parameters": [_path("store_id")],
                    "responses": {"200": {"description": "sku -> quantity on hand"}, "404": _ERROR},
                },
                "post": {
                    "summary": "Push stock in bulk: mode set (levels) or adjust (deltas, all or nothing)",
                    "parameters": [_path("store_id")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items"],
                                    "properties": {
                                        "mode": {
                                            "type": "string",
                                            "enum": ["set", "adjust"],
                                            "default": "set",
                                        },
                                        "items": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": 1000,
                                            "items": {
                                                "type": "object",
                                                "required": ["sku", "qty"],
                                                "properties": {
                                                    "sku": {"type": "string"},
                                                    "qty": {"type": "integer"},
                                                },
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "Levels after the change"},
                        "400": _ERROR,
                        "404": _ERROR,
                        "409": _ERROR,
                    },
                },
            },
            "/api/v1/products": {
                "get": {
                    "summary": "The product catalogue",
                    "responses": {"200": {"description": "Products with prices in cents"}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness, Redis reachability and catalogue version",
                    "responses": {"200": {"description": "Healthy"}},
                }
            },
        },
        "components": {
            "schemas": {
                "Store": STORE_SCHEMA,
                "Meta": META_SCHEMA,
                "OrderRequest": ORDER_REQUEST_SCHEMA,
                "Order": ORDER_SCHEMA,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "details"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "object"},
                            },
                        }
                    },
                },
            },
            "responses": {
                "Error": {
                    "description": "Client error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }
