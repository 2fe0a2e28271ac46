"""Address search for apps without GPS and for phone operators: text in, ranked positions out."""

from __future__ import annotations

import threading
from typing import Any, cast

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from geo.addresses import MAX_QUERY_LENGTH, AddressBook, AddressHit, fold, load_addresses
from web.limits import rate_limited
from web.params import QueryReader, takes_query
from web.services import ATTRIBUTION

bp = Blueprint("addresses", __name__, url_prefix="/api/v1/addresses")

DEFAULT_LIMIT = 5
MAX_LIMIT = 20
_LOADING = threading.Lock()


def address_book() -> AddressBook:
    """The settings' address data, read on first use and kept for the process."""
    book = current_app.extensions.get("addresses")
    if book is None:
        with _LOADING:
            book = current_app.extensions.get("addresses")
            if book is None:
                path = current_app.config["SETTINGS"].address_data
                book = AddressBook(()) if path is None else load_addresses(path)
                current_app.extensions["addresses"] = book
    return cast(AddressBook, book)


def hit_json(hit: AddressHit) -> dict[str, Any]:
    entry = hit.entry
    body: dict[str, Any] = {
        "address": entry.address,
        "address_en": entry.address_en or None,
        "lat": entry.lat,
        "lng": entry.lng,
        "match": hit.match,
        "score": hit.score,
        "kind": entry.kind,
        "city": entry.city,
        "district": entry.district or None,
        "street": entry.street or None,
        "housenumber": entry.housenumber or None,
        "name": entry.name or None,
        "source": entry.id,
    }
    if hit.distance_m is not None:
        body["distance_m"] = round(hit.distance_m, 1)
    return body


@bp.get("")
@takes_query("q", "limit", "near")
@rate_limited("public")
def search() -> ResponseReturnValue:
    """Positions for an address, a street or a place name, best first."""
    args = QueryReader(request.args)
    query = args.text("q", max_length=MAX_QUERY_LENGTH)
    limit = args.integer("limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    near = args.point("near")
    if query is None and "q" not in args.problems:
        args.problems["q"] = "required"
    elif query is not None and not fold(query):
        args.problems["q"] = "has no letter or digit"
    args.finish()
    assert query is not None  # finish() raised otherwise
    hits = address_book().search(query, limit=limit, near=near)
    return jsonify(
        query=query,
        count=len(hits),
        results=[hit_json(hit) for hit in hits],
        attribution=ATTRIBUTION,
    )
