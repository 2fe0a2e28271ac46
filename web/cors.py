"""Cross-origin reads: any origin may read the public API's GET answers (search, products,
tracking, the base map, addresses) from a browser; nothing else is readable across origins.

Public is what the route says of itself (:func:`web.limits.is_public`), not a path prefix: a
staff route under a public prefix (a store's orders under ``/api/v1/stores``) stays closed.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.typing import ResponseReturnValue

from web.limits import is_public


def public_reads(response: Any) -> ResponseReturnValue:
    """``Access-Control-Allow-Origin: *`` on a GET of a public API route (pages excluded)."""
    if request.method != "GET" or not request.path.startswith("/api/"):
        return response  # type: ignore[no-any-return]
    view = current_app.view_functions.get(request.endpoint or "")
    if is_public(view) and "Access-Control-Allow-Origin" not in response.headers:
        response.headers.add("Access-Control-Allow-Origin", "*")
    return response  # type: ignore[no-any-return]
