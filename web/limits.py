"""Rate limits kept in Redis, so they hold across every web worker; and which routes are public.

A fixed one-minute window per caller: a token's id where a token is sent, else the client
address. Past the limit a request is a 429 with ``Retry-After`` (seconds to the next window).

A route limited in the ``"public"`` bucket, ``@rate_limited("public")``, is a public route:
anyone may call it without a token. That line is the one place that says so: the CORS header
(:mod:`web.cors`) and the OpenAPI document's security (:mod:`web.openapi`) read it from the view
(:func:`is_public`), never from a list of paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import current_app, request

from dispatch.storage.rate_limits import count_call
from web.auth import known_principal
from web.errors import ApiError
from web.services import redis_client

P = ParamSpec("P")
R = TypeVar("R")
WINDOW_S = 60
PUBLIC = "public"  # the bucket of the routes anyone may call without a token


def _caller() -> str:
    principal = known_principal()  # the route's own check then reuses this lookup
    if principal is not None:
        return f"token:{principal.token_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def rate_limited(bucket: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """At most the configured number of calls per minute per caller in ``bucket``; the bucket
    ``"public"`` also makes the route public (see the module's docstring)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            limit = current_app.config["SETTINGS"].rate_limit_per_minute
            if limit > 0:
                now = time.time()
                window = int(now // WINDOW_S)
                count = count_call(redis_client(), bucket, _caller(), window=window,
                                   window_s=WINDOW_S)  # fmt: skip
                if count > limit:
                    retry = max(1, int((window + 1) * WINDOW_S - now) + 1)
                    raise ApiError(429, "rate_limited",
                                   f"more than {limit} requests a minute; slow down",
                                   {"retry_after_s": retry, "limit_per_minute": limit},
                                   headers={"Retry-After": str(retry)})  # fmt: skip
            return view(*args, **kwargs)

        limited.rate_limit_bucket = bucket  # type: ignore[attr-defined]  # read by is_public
        return limited

    return decorate


def rate_limit_bucket(view: Any) -> str | None:
    """The bucket ``view`` is limited in (None: not rate limited)."""
    return getattr(view, "rate_limit_bucket", None)


def is_public(view: Any) -> bool:
    """Whether anyone may call ``view`` without a token."""
    return rate_limit_bucket(view) == PUBLIC
