"""The shoppers' store API: nearby search, one store, the whole catalogue page by page."""

from __future__ import annotations

import bisect
import itertools
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from dispatch.storage import orders as stored_orders
from geo.index import NearbyQuery, Ranked, StoreIndex, is_open
from geo.store_pieces import MappedPieces, StorePieces, dump, store_fields, store_pieces
from geo.stores import STORE_KINDS, Store
from web.bodies import MAX_ID_LEN
from web.errors import ApiError
from web.limits import rate_limited
from web.params import QueryReader, echoed, takes_query
from web.services import (
    catalogue_cache,
    catalogue_index,
    catalogue_meta,
    now,
    redis_client,
    store_keyspace,
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
    return store_fields(store, open_now=is_open(store, moment))


_FRAGMENT_CACHE_LIMIT = 200_000
_OPEN_TEXT = {True: "true", False: "false", None: "null"}


def _hits_json(
    index: StoreIndex, mapped: MappedPieces | None, ranked: Ranked, *, moment: datetime
) -> str:
    """The hits as a JSON array: each store's unchanging text (:mod:`geo.store_pieces`), read
    from the saved pieces of a large catalogue, else made from the store on first sight and
    kept by its position in the index (per worker, bounded, dropped with the index)."""
    kept = current_app.extensions.get("store_json_pieces")
    if kept is None or kept[0] is not index:
        kept = current_app.extensions["store_json_pieces"] = (index, {})
    cache: dict[int, StorePieces] = kept[1]
    parts = []
    for position, distance in zip(ranked.positions, ranked.metres, strict=True):
        # Saved pieces are a slice of the mapped file away (~2 us); kept ones would churn a
        # cache of tracked objects that the collector's full passes then walk.
        pieces = mapped[position] if mapped is not None else cache.get(position)
        if pieces is None:
            if len(cache) >= _FRAGMENT_CACHE_LIMIT:  # the older half goes (dicts keep order)
                for old in list(itertools.islice(cache, len(cache) // 2)):
                    cache.pop(old, None)  # another thread may have taken it
            pieces = cache[position] = store_pieces(index.store_at(position))
        hours = pieces.hours
        open_now = "null" if hours is None else _OPEN_TEXT[hours.is_open_at(moment, pieces.zone)]
        # repr of a finite float is the text json writes for it
        parts.append(
            f'{pieces.head}"distance_m":{round(distance, 2)!r},{pieces.middle}'
            f'"open_now":{open_now},{pieces.tail}'
        )
    return "[" + ",".join(parts) + "]"


@bp.get("/nearby")
@takes_query(*NEARBY_PARAMS)
@rate_limited("public")
def nearby() -> ResponseReturnValue:
    """Stores near a point, nearest first (ties by id), exactly as a full scan would rank them."""
    index, mapped = catalogue_cache().served()
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
        unknown = sorted(set(skus) - set(stored_orders.load_products(redis_client())))
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
    ranked = _with_stock(index, query, skus) if skus else index.ranked(query)
    web_metrics().nearby_seconds.observe(time.perf_counter() - started)
    # jsonify's text, written by hand: encoding twenty store dicts was most of the request
    meta = dump(catalogue_meta(at=moment))
    stores = _hits_json(index, mapped, ranked, moment=moment)
    body = f'{{"count":{len(ranked.positions)},"meta":{meta},"stores":{stores}}}\n'
    return current_app.response_class(body, mimetype="application/json")


def _with_stock(index: StoreIndex, query: NearbyQuery, skus: list[str]) -> Ranked:
    """The nearest ``limit`` stores that have every sku in stock, still exact.

    Stock lives in Redis, so the index is asked for a growing prefix of the nearest stores and
    the prefix is checked in one round trip; the first ``limit`` stocked stores of an exact
    nearest-first prefix are the first ``limit`` stocked stores overall.
    """
    wanted = query.limit
    fetch = wanted * 4
    while True:
        positions, metres = index.ranked(replace(query, limit=min(fetch, len(index) or 1)))
        stores = [index.store_at(p) for p in positions]
        stocked = stored_orders.stores_stocking(
            redis_client(), [store_keyspace(store) for store in stores], skus
        )
        found = [
            (p, d)
            for p, d, store in zip(positions, metres, stores, strict=True)
            if store.id in stocked
        ][:wanted]
        if len(found) >= wanted or len(positions) < fetch or fetch >= len(index):
            return Ranked([p for p, _ in found], [d for _, d in found])
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
    after = args.text("after", max_length=MAX_ID_LEN)
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
