"""Who is calling: bearer tokens with a role, kept hashed in Redis, and the checks on each route.

Roles: ``shopper`` (an app account: public search and its own orders), ``store`` (staff of one
store), ``courier`` (one courier), ``dispatcher`` and ``admin``. A token is shown once when it is
issued; Redis keeps only its SHA-256, so a copy of the database does not let anyone in. A missing
or unknown token is a 401; the wrong role a 403; someone else's object a 404, as if it did not
exist.

A token may carry an expiry (``expires_at``): after it the token is a 401 ``token_expired``, and
it stays listed (marked expired) until revoked. Rotation gives a token id a new secret; the old
one stops at once, or after a grace period (``grace_s``) so phones can pick up the new one. Only
the latest old secret is kept in grace: a second rotation ends the first one's grace.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import redis
from flask import g, request

from dispatch.storage.replies import text_hash
from web.errors import ApiError
from web.params import refuse_unknown_query

ROLES = ("shopper", "store", "courier", "dispatcher", "admin")
BOUND_ROLES = frozenset({"shopper", "store", "courier"})  # these act for one subject
STAFF = ("dispatcher", "admin")
# one hash tag: issuing and revoking change both in one transaction, also on Redis Cluster
TOKENS_KEY = "auth:{tokens}"  # sha256 hex -> principal JSON
TOKEN_IDS_KEY = "auth:{tokens}:ids"  # token id -> sha256 hex (to revoke by id)
RETIRING_KEY = "auth:{tokens}:retiring"  # token id -> sha256 hex of the old secret in its grace
MAX_GRACE = timedelta(days=7)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    role: str
    subject: str | None  # the shopper, store or courier id for bound roles
    label: str = ""
    expires_at: datetime | None = None  # None: until revoked

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def has_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and at >= self.expires_at

    def to_record(self) -> dict[str, Any]:
        expires = None if self.expires_at is None else self.expires_at.isoformat()
        return {"id": self.token_id, "role": self.role, "subject": self.subject,
                "label": self.label, "expires_at": expires}  # fmt: skip

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Principal:
        expires = record.get("expires_at")
        return cls(record["id"], record["role"], record["subject"], record.get("label", ""),
                   None if expires is None else datetime.fromisoformat(expires))  # fmt: skip


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    client: redis.Redis, role: str, subject: str | None, *, label: str = "", at: datetime,
    expires_at: datetime | None = None,
) -> tuple[Principal, str]:  # fmt: skip
    """A new token for ``role`` (bound to ``subject`` where the role needs one), valid until
    ``expires_at`` (None: until revoked)."""
    if expires_at is not None and expires_at <= at:
        msg = "expires_at must be in the future"
        raise ValueError(msg)
    if role not in ROLES:
        msg = f"role must be one of {', '.join(ROLES)}"
        raise ValueError(msg)
    if (role in BOUND_ROLES) != bool(subject):
        msg = f"a {role} token {'needs' if role in BOUND_ROLES else 'takes no'} subject"
        raise ValueError(msg)
    token = secrets.token_urlsafe(32)
    principal = Principal(f"tok_{secrets.token_hex(6)}", role, subject or None, label, expires_at)
    record = principal.to_record() | {"issued_at": at.isoformat()}
    digest = _digest(token)
    with client.pipeline(transaction=True) as pipe:  # both keys or neither
        pipe.hset(TOKENS_KEY, digest, json.dumps(record, ensure_ascii=False))
        pipe.hset(TOKEN_IDS_KEY, principal.token_id, digest)
        pipe.execute()
    return principal, token


def revoke_token(client: redis.Redis, token_id: str) -> bool:
    """Revoke by token id, an old secret still in its grace too; False if there was no such
    token."""
    digest: Any = client.hget(TOKEN_IDS_KEY, token_id)
    if digest is None:
        return False
    retiring: Any = client.hget(RETIRING_KEY, token_id)
    with client.pipeline(transaction=True) as pipe:
        pipe.hdel(TOKENS_KEY, digest, *([retiring] if retiring else []))
        pipe.hdel(TOKEN_IDS_KEY, token_id)
        pipe.hdel(RETIRING_KEY, token_id)
        pipe.execute()
    return True


def rotate_token(
    client: redis.Redis, token_id: str, *, at: datetime, grace: timedelta = timedelta(0),
    expires_at: datetime | None = None, keep_expiry: bool = True,
) -> tuple[Principal, str, datetime | None] | None:  # fmt: skip
    """A new secret for ``token_id`` (same role, subject and label); None if there is no such
    token. The old secret works ``grace`` longer (never past its own expiry), else stops now.
    The expiry stays as it was with ``keep_expiry``, else becomes ``expires_at``. Returns the
    principal, the new secret and until when the old one still works (None: it does not)."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        msg = f"grace must be 0 to {MAX_GRACE.days} days"
        raise ValueError(msg)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(TOKEN_IDS_KEY, RETIRING_KEY)  # type: ignore[no-untyped-call]
                digest: Any = pipe.hget(TOKEN_IDS_KEY, token_id)
                raw: Any = None if digest is None else pipe.hget(TOKENS_KEY, digest)
                if raw is None:
                    return None
                record = json.loads(raw)
                old = Principal.from_record(record)
                expiry = old.expires_at if keep_expiry else expires_at
                if expiry is not None and expiry <= at:
                    msg = "the token would be expired: give a new expiry"
                    raise ValueError(msg)
                previous: Any = pipe.hget(RETIRING_KEY, token_id)
                new = Principal(old.token_id, old.role, old.subject, old.label, expiry)
                token = secrets.token_urlsafe(32)
                fresh = record | new.to_record() | {"rotated_at": at.isoformat()}
                until = at + grace
                if old.expires_at is not None:
                    until = min(until, old.expires_at)
                pipe.multi()
                if previous is not None:  # one old secret in grace at a time
                    pipe.hdel(TOKENS_KEY, previous)
                pipe.hset(TOKENS_KEY, _digest(token), json.dumps(fresh, ensure_ascii=False))
                pipe.hset(TOKEN_IDS_KEY, token_id, _digest(token))
                if until > at:
                    retiring = record | {"expires_at": until.isoformat(), "retiring": True}
                    pipe.hset(TOKENS_KEY, digest, json.dumps(retiring, ensure_ascii=False))
                    pipe.hset(RETIRING_KEY, token_id, digest)
                else:
                    pipe.hdel(TOKENS_KEY, digest)
                    pipe.hdel(RETIRING_KEY, token_id)
                pipe.execute()
                return new, token, (until if until > at else None)
            except redis.WatchError:
                continue


def list_tokens(client: redis.Redis, *, role: str | None = None) -> list[dict[str, Any]]:
    """Every token's record (never a secret, nor its hash), in id order; only ``role``'s if
    given. An old secret still in its grace shows as ``previous_valid_until``."""
    ids = text_hash(client.hgetall(TOKEN_IDS_KEY))
    retiring = text_hash(client.hgetall(RETIRING_KEY))
    names = sorted(ids)
    digests = [ids[name] for name in names] + [retiring[name] for name in names if name in retiring]
    raws: Any = client.hmget(TOKENS_KEY, digests) if digests else []
    found = {digest: json.loads(raw) for digest, raw in zip(digests, raws, strict=True) if raw}
    records = []
    for name in names:
        record = found.get(ids[name])
        if record is None or (role is not None and record["role"] != role):
            continue
        old = found.get(retiring.get(name, ""))
        records.append(
            record
            | {
                "expires_at": record.get("expires_at"),
                "previous_valid_until": old["expires_at"] if old else None,
            }
        )
    return records


def principal_for(client: redis.Redis, token: str) -> Principal | None:
    """Whose token this is, expired or not (None: unknown or revoked)."""
    raw: Any = client.hget(TOKENS_KEY, _digest(token))
    if raw is None:
        return None
    return Principal.from_record(json.loads(raw))


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
