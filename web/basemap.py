"""The pages' base map: the demo cities' streets from the service itself, no tile server needed.

Public (the shoppers' tracking page draws it too) and the same for everyone, so the whole map is
serialised once per process and answered with an ETag that lets browsers keep their copy.
"""

from __future__ import annotations

import hashlib
import json
from typing import cast

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from geo.streets import Street, streets_geojson
from web.limits import rate_limited
from web.params import QueryReader, takes_query
from web.services import ATTRIBUTION

bp = Blueprint("basemap", __name__, url_prefix="/api/v1/map")

MAX_AGE_S = 3600  # the streets change only with a new extract, at a restart


def _answer(streets: tuple[Street, ...], bbox: tuple[float, float, float, float] | None) -> bytes:
    body = streets_geojson(streets, bbox) | {"attribution": ATTRIBUTION}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@bp.get("/streets")
@rate_limited("public")
@takes_query("bbox")
def streets() -> ResponseReturnValue:
    """The drivable streets (within ``bbox`` when given) as GeoJSON lines with a class."""
    reader = QueryReader(request.args)
    bbox = reader.bbox("bbox")
    reader.finish()
    network = cast(tuple[Street, ...], current_app.extensions["streets"])
    if bbox is None:
        cached = current_app.extensions.get("streets_json")
        if cached is None:
            cached = current_app.extensions["streets_json"] = _answer(network, None)
        data = cast(bytes, cached)
    else:
        data = _answer(network, bbox)
    response = Response(data, mimetype="application/geo+json")
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_S
    return response.make_conditional(request)
