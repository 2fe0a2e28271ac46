"""Who is calling: the bearer token of a request, and the checks on each route.

Roles: ``shopper`` (an app account: public search and its own orders), ``store`` (staff of one
store), ``courier`` (one courier), ``dispatcher`` and ``admin``; the tokens themselves are kept
(hashed) by :mod:`dispatch.storage.tokens`. A missing or unknown token is a 401; an expired one a
401 ``token_expired``; the wrong role a 403; someone else's object a 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from dispatch.storage.tokens import ROLES, Principal, principal_for
from web.errors import ApiError
from web.params import refuse_unknown_query

P = ParamSpec("P")
R = TypeVar("R")


def current_principal(*, allow_query: bool = False) -> Principal:
    """The caller, from ``Authorization: Bearer``; or ``?access_token=`` where a browser
    cannot set headers (an EventSource)."""
    token = bearer_token(allow_query=allow_query)
    if not token:
        raise ApiError(401, "unauthorized", "a bearer token is required",
                       {"header": "Authorization: Bearer <token>"})  # fmt: skip
    principal = known_principal(allow_query=allow_query)
    if principal is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token")
    from web.services import now

    if principal.has_expired(now()):
        assert principal.expires_at is not None
        raise ApiError(401, "token_expired", "this token has expired: ask for a new one",
                       {"expired_at": principal.expires_at.isoformat()})  # fmt: skip
    return principal


def known_principal(*, allow_query: bool = False) -> Principal | None:
    """The caller if it sent a token that is known, else None; looked up once per request."""
    token = bearer_token(allow_query=allow_query)
    if not token:
        return None
    seen: dict[str, Principal | None] = g.setdefault("principals", {})
    if token not in seen:
        from web.services import redis_client

        seen[token] = principal_for(redis_client(), token)
    return seen[token]


def bearer_token(*, allow_query: bool = False) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and allow_query:
        scheme, token = "Bearer", request.args.get("access_token", "")
    return token.strip() if scheme.lower() == "bearer" else ""


def allow(*roles: str, allow_query: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Only these roles may call the route (a 403 for any other, a 401 without a token)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        msg = f"unknown role(s) {unknown}"
        raise ValueError(msg)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = current_principal(allow_query=allow_query)
            if principal.role not in roles:
                raise ApiError(403, "forbidden", f"a {principal.role} token may not do this",
                               {"allowed_roles": list(roles)})  # fmt: skip
            refuse_unknown_query(checked_by_auth=False)  # once the caller is known
            return view(*args, **kwargs)

        guarded.allowed_roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI test
        return guarded

    return decorate


def require_own(kind: str, owner: str | None) -> None:
    """A bound role may only touch its own objects: anything else looks like it does not exist."""
    principal = current_principal()
    if principal.is_staff:
        return
    if owner is None or principal.subject != owner:
        raise ApiError(404, f"{kind}_not_found", f"no {kind} here for this token")
