"""Rate limits kept in Redis, so they hold across every web worker, and the pages' headers.

A fixed one-minute window per caller: a token's id where a token is sent, else the client
address. Past the limit a request is a 429 with ``Retry-After`` (seconds to the next window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import current_app, request
from flask.typing import ResponseReturnValue

from web.auth import known_principal
from web.errors import ApiError
from web.services import redis_client

P = ParamSpec("P")
R = TypeVar("R")
WINDOW_S = 60


def _caller() -> str:
    principal = known_principal()  # the route's own check then reuses this lookup
    if principal is not None:
        return f"token:{principal.token_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def rate_limited(bucket: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """At most the configured number of calls per minute per caller in ``bucket``."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            limit = current_app.config["SETTINGS"].rate_limit_per_minute
            if limit > 0:
                now = time.time()
                window = int(now // WINDOW_S)
                key = f"ratelimit:{bucket}:{_caller()}:{window}"
                with redis_client().pipeline(transaction=True) as pipe:  # count with expiry
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_S * 2)
                    count = int(pipe.execute()[0])
                if count > limit:
                    retry = max(1, int((window + 1) * WINDOW_S - now) + 1)
                    raise ApiError(429, "rate_limited",
                                   f"more than {limit} requests a minute; slow down",
                                   {"retry_after_s": retry, "limit_per_minute": limit},
                                   headers={"Retry-After": str(retry)})  # fmt: skip
            return view(*args, **kwargs)

        return limited

    return decorate


_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
PUBLIC_PATHS = ("/api/v1/stores", "/api/v1/products", "/api/v1/track/", "/api/v1/map/",
                "/api/v1/addresses")  # fmt: skip


def secure_headers(response: Any) -> ResponseReturnValue:
    """Headers every answer carries: no sniffing, no framing, no referrer; a content policy on
    pages; any origin may read the public API (search, products, tracking) from a browser."""
    headers = response.headers
    present = set(headers.keys(lower=True))  # one look instead of a scan per header
    for name, value in _ALWAYS:
        if name.lower() not in present:
            headers.add(name, value)
    if response.mimetype == "text/html":
        tiles = current_app.config.get("TILE_ORIGIN", "")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: {tiles}".strip()
            + "; connect-src 'self'; frame-ancestors 'none'",
        )
    public = request.method == "GET" and request.path.startswith(PUBLIC_PATHS)
    if public and "access-control-allow-origin" not in present:
        headers.add("Access-Control-Allow-Origin", "*")
    return response  # type: ignore[no-any-return]
