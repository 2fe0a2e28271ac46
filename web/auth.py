"""Who is calling: bearer tokens with a role, kept hashed in Redis, and the checks on each route.

Roles: ``shopper`` (an app account: public search and its own orders), ``store`` (staff of one
store), ``courier`` (one courier), ``dispatcher`` and ``admin``. A token is shown once when it is
issued; Redis keeps only its SHA-256, so a copy of the database does not let anyone in. A missing
or unknown token is a 401; the wrong role a 403; someone else's object a 404, as if it did not
exist.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import redis
from flask import g, request

from web.errors import ApiError

ROLES = ("shopper", "store", "courier", "dispatcher", "admin")
BOUND_ROLES = frozenset({"shopper", "store", "courier"})  # these act for one subject
STAFF = ("dispatcher", "admin")
# one hash tag: issuing and revoking change both in one transaction, also on Redis Cluster
TOKENS_KEY = "auth:{tokens}"  # sha256 hex -> principal JSON
TOKEN_IDS_KEY = "auth:{tokens}:ids"  # token id -> sha256 hex (to revoke by id)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    role: str
    subject: str | None  # the shopper, store or courier id for bound roles
    label: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def to_record(self) -> dict[str, Any]:
        return {"id": self.token_id, "role": self.role, "subject": self.subject,
                "label": self.label}  # fmt: skip


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    client: redis.Redis, role: str, subject: str | None, *, label: str = "", at: datetime
) -> tuple[Principal, str]:
    """A new token for ``role`` (bound to ``subject`` where the role needs one)."""
    if role not in ROLES:
        msg = f"role must be one of {', '.join(ROLES)}"
        raise ValueError(msg)
    if (role in BOUND_ROLES) != bool(subject):
        msg = f"a {role} token {'needs' if role in BOUND_ROLES else 'takes no'} subject"
        raise ValueError(msg)
    token = secrets.token_urlsafe(32)
    principal = Principal(f"tok_{secrets.token_hex(6)}", role, subject or None, label)
    record = principal.to_record() | {"issued_at": at.isoformat()}
    digest = _digest(token)
    with client.pipeline(transaction=True) as pipe:  # both keys or neither
        pipe.hset(TOKENS_KEY, digest, json.dumps(record, ensure_ascii=False))
        pipe.hset(TOKEN_IDS_KEY, principal.token_id, digest)
        pipe.execute()
    return principal, token


def revoke_token(client: redis.Redis, token_id: str) -> bool:
    """Revoke by token id; False if there was no such token."""
    digest: Any = client.hget(TOKEN_IDS_KEY, token_id)
    if digest is None:
        return False
    with client.pipeline(transaction=True) as pipe:
        pipe.hdel(TOKENS_KEY, digest)
        pipe.hdel(TOKEN_IDS_KEY, token_id)
        pipe.execute()
    return True


def list_tokens(client: redis.Redis) -> list[dict[str, Any]]:
    raw: Any = client.hvals(TOKENS_KEY)
    return sorted((json.loads(v) for v in raw), key=lambda r: r["id"])


def principal_for(client: redis.Redis, token: str) -> Principal | None:
    raw: Any = client.hget(TOKENS_KEY, _digest(token))
    if raw is None:
        return None
    record = json.loads(raw)
    return Principal(record["id"], record["role"], record["subject"], record.get("label", ""))


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
