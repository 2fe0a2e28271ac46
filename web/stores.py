"""The shoppers' store API: nearby search, one store, the whole catalogue page by page."""

from __future__ import annotations

import bisect
import json
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from dispatch import order_store
from geo.index import NearbyQuery, StoreHit, StoreIndex, is_open
from geo.stores import STORE_KINDS, Store
from geo.zones import zone_to_geojson
from web.errors import ApiError
from web.limits import rate_limited
from web.params import QueryReader, echoed, takes_query
from web.services import (
    catalogue_index,
    catalogue_meta,
    now,
    redis_client,
    store_slot,
    web_metrics,
)

bp = Blueprint("stores", __name__, url_prefix="/api/v1/stores")

DEFAULT_RADIUS_M = 3000.0
MAX_RADIUS_M = 50_000.0
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MAX_PAGE = 500
NEARBY_PARAMS = (
    "lat", "lng", "radius_m", "limit", "kind", "brand", "partner", "open_now", "at", "sku",
    "delivers_to",
)  # fmt: skip
MAX_SKUS = 20


def store_json(store: Store, *, moment: datetime) -> dict[str, Any]:
    return {
        "id": store.id,
        "name": store.name,
        "brand": store.brand,
        "kind": store.kind,
        "partner": store.partner,
        "lat": store.lat,
        "lng": store.lng,
        "address": store.address,
        "opening_hours": store.opening_hours,
        "timezone": store.timezone,
        "open_now": is_open(store, moment),
        "prep_time_s": store.prep_time_s,
        "capacity_per_hour": store.capacity_per_hour,
        "delivery_radius_m": store.delivery_radius_m,
        "delivery_zone": _zone_json(store),
    }


def _zone_json(store: Store) -> dict[str, Any] | None:
    return None if store.delivery_zone is None else zone_to_geojson(store.delivery_zone)


_FRAGMENT_CACHE_LIMIT = 200_000


def _dump(value: Any) -> str:
    """JSON as Flask's jsonify writes it (compact, ASCII, keys sorted)."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def _store_fragments(store: Store) -> tuple[str, str, str]:
    """A store's JSON in three pieces around its two per-request fields, ``distance_m`` and
    ``open_now``, which sort between them: the same text jsonify writes for :func:`store_json`."""
    head = (
        f'{{"address":{_dump(store.address)},"brand":{_dump(store.brand)},'
        f'"capacity_per_hour":{_dump(store.capacity_per_hour)},'
        f'"delivery_radius_m":{_dump(store.delivery_radius_m)},'
        f'"delivery_zone":{_dump(_zone_json(store))},'
    )
    middle = (
        f'"id":{_dump(store.id)},"kind":{_dump(store.kind)},"lat":{_dump(store.lat)},'
        f'"lng":{_dump(store.lng)},"name":{_dump(store.name)},'
    )
    tail = (
        f'"opening_hours":{_dump(store.opening_hours)},"partner":{_dump(store.partner)},'
        f'"prep_time_s":{_dump(store.prep_time_s)},"timezone":{_dump(store.timezone)}}}'
    )
    return head, middle, tail


def _hits_json(hits: list[StoreHit], *, moment: datetime) -> str:
    """The hits as a JSON array, each store's unchanging text made once and kept (per worker,
    bounded, checked against the very store object so a new catalogue makes new text)."""
    cache: dict[str, tuple[Store, tuple[str, str, str]]]
    cache = current_app.extensions.setdefault("store_json_fragments", {})
    parts = []
    for store, distance in hits:
        entry = cache.get(store.id)
        if entry is None or entry[0] is not store:
            if len(cache) >= _FRAGMENT_CACHE_LIMIT:
                cache.clear()
            entry = cache[store.id] = (store, _store_fragments(store))
        head, middle, tail = entry[1]
        open_now = _dump(is_open(store, moment))
        parts.append(
            f'{head}"distance_m":{_dump(round(distance, 2))},{middle}"open_now":{open_now},{tail}'
        )
    return "[" + ",".join(parts) + "]"


@bp.get("/nearby")
@takes_query(*NEARBY_PARAMS)
@rate_limited("public")
def nearby() -> ResponseReturnValue:
    """Stores near a point, nearest first (ties by id), exactly as a full scan would rank them."""
    index = catalogue_index()
    args = QueryReader(request.args)
    lat = args.number("lat", low=-90, high=90)
    lng = args.number("lng", low=-180, high=180)
    radius = args.number("radius_m", default=DEFAULT_RADIUS_M, low=0, high=MAX_RADIUS_M)
    limit = args.integer("limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    kinds = args.choices("kind", allowed=STORE_KINDS)
    brands = args.choices("brand", allowed=index.brands)
    partner = args.boolean("partner")
    open_now = args.boolean("open_now")
    moment = args.moment("at") or now()
    skus = args.values("sku", max_items=MAX_SKUS)
    delivers_to = args.point("delivers_to")
    if skus:
        unknown = sorted(set(skus) - set(order_store.load_products(redis_client())))
        if unknown:
            args.problems["sku"] = f"unknown sku(s): {echoed(unknown)}"
    args.finish()
    assert lat is not None and lng is not None and radius is not None  # finish() raised otherwise
    query = NearbyQuery(
        lat=lat,
        lng=lng,
        radius_m=radius,
        limit=limit,
        kinds=kinds,
        brands=brands,
        partner=partner,
        open_at=moment if open_now else None,
        delivers_to=delivers_to,
    )
    started = time.perf_counter()
    hits = _with_stock(index, query, skus) if skus else index.nearby(query)
    web_metrics().nearby_seconds.observe(time.perf_counter() - started)
    # jsonify's text, written by hand: encoding twenty store dicts was most of the request
    meta = _dump(catalogue_meta(at=moment))
    body = f'{{"count":{len(hits)},"meta":{meta},"stores":{_hits_json(hits, moment=moment)}}}\n'
    return current_app.response_class(body, mimetype="application/json")


def _with_stock(index: StoreIndex, query: NearbyQuery, skus: list[str]) -> list[StoreHit]:
    """The nearest ``limit`` stores that have every sku in stock, still exact.

    Stock lives in Redis, so the index is asked for a growing prefix of the nearest stores and
    the prefix is checked in one round trip; the first ``limit`` stocked stores of an exact
    nearest-first prefix are the first ``limit`` stocked stores overall.
    """
    wanted = query.limit
    fetch = wanted * 4
    while True:
        hits = index.nearby(replace(query, limit=min(fetch, len(index) or 1)))
        stocked = order_store.stores_stocking(
            redis_client(), [store_slot(h.store) for h in hits], skus
        )
        found = [hit for hit in hits if hit.store.id in stocked]
        if len(found) >= wanted or len(hits) < fetch or fetch >= len(index):
            return found[:wanted]
        fetch *= 4


@bp.get("/<store_id>")
@rate_limited("public")
def one_store(store_id: str) -> ResponseReturnValue:
    store = catalogue_index().get(store_id)
    if store is None:
        raise ApiError(404, "store_not_found", f"no store with id {store_id!r}", {"id": store_id})
    moment = now()
    return jsonify(store=store_json(store, moment=moment), meta=catalogue_meta(at=moment))


@bp.get("")
@takes_query("limit", "after")
@rate_limited("public")
def list_stores() -> ResponseReturnValue:
    """The catalogue in id order, ``limit`` at a time, continuing ``after`` the last id seen."""
    args = QueryReader(request.args)
    limit = args.integer("limit", default=100, low=1, high=MAX_PAGE)
    after = args.text("after", max_length=128)
    args.finish()
    index = catalogue_index()
    ids = index.ids_sorted()
    start = 0
    if after is not None:
        start = bisect.bisect_right(ids, after)
    page = ids[start : start + limit]
    moment = now()
    stores = [store_json(index.get(i), moment=moment) for i in page]  # type: ignore[arg-type]
    more = start + limit < len(ids)
    return jsonify(
        stores=stores,
        count=len(stores),
        total=len(ids),
        next_after=page[-1] if more and page else None,
        meta=catalogue_meta(at=moment),
    )
