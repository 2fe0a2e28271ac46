"""The OpenAPI 3 document of the public API, written by hand and checked by the tests."""

from __future__ import annotations

from typing import Any

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


def openapi_document() -> dict[str, Any]:
    store_ref = {"$ref": "#/components/schemas/Store"}
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
