"""Access tokens in Redis, kept hashed: issue, rotate, revoke, list, and whose a token is.

A token is shown once when it is issued; Redis keeps only its SHA-256, so a copy of the database
does not let anyone in. A token may carry an expiry (``expires_at``); it stays stored (and
listed) after it until revoked. Rotation gives a token id a new secret; the old one stops at
once, or after a grace period so phones can pick up the new one. Only the latest old secret is
kept in grace: a second rotation ends the first one's grace.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis

from dispatch.storage.client import Client
from dispatch.storage.replies import text_hash

ROLES = ("shopper", "store", "courier", "dispatcher", "admin")
BOUND_ROLES = frozenset({"shopper", "store", "courier"})  # these act for one subject
STAFF = ("dispatcher", "admin")
# one hash tag: issuing and revoking change both in one transaction, also on Redis Cluster
TOKENS_KEY = "auth:{tokens}"  # sha256 hex -> principal JSON
TOKEN_IDS_KEY = "auth:{tokens}:ids"  # token id -> sha256 hex (to revoke by id)
RETIRING_KEY = "auth:{tokens}:retiring"  # token id -> sha256 hex of the old secret in its grace
MAX_GRACE = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token acts as."""

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


@dataclass(frozen=True, slots=True)
class TokenListing:
    """One token as an admin sees it: never its secret, nor its hash."""

    principal: Principal
    issued_at: datetime | None
    rotated_at: datetime | None  # None: never rotated
    previous_valid_until: datetime | None  # until when an old secret still works (its grace)

    def to_record(self) -> dict[str, Any]:
        """As the API lists it (a never-rotated token has no ``rotated_at``)."""
        record = self.principal.to_record()
        if self.issued_at is not None:
            record["issued_at"] = self.issued_at.isoformat()
        if self.rotated_at is not None:
            record["rotated_at"] = self.rotated_at.isoformat()
        until = self.previous_valid_until
        return record | {"previous_valid_until": None if until is None else until.isoformat()}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def issue_token(
    client: Client, role: str, subject: str | None, *, label: str = "", at: datetime,
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


def revoke_token(client: Client, token_id: str) -> bool:
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
    client: Client, token_id: str, *, at: datetime, grace: timedelta = timedelta(0),
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


def list_tokens(client: Client, *, role: str | None = None) -> list[TokenListing]:
    """Every token (never a secret, nor its hash), in id order; only ``role``'s if given. An old
    secret still in its grace shows as ``previous_valid_until``."""
    ids = text_hash(client.hgetall(TOKEN_IDS_KEY))
    retiring = text_hash(client.hgetall(RETIRING_KEY))
    names = sorted(ids)
    digests = [ids[name] for name in names] + [retiring[name] for name in names if name in retiring]
    raws: Any = client.hmget(TOKENS_KEY, digests) if digests else []
    found = {digest: json.loads(raw) for digest, raw in zip(digests, raws, strict=True) if raw}
    listings = []
    for name in names:
        record = found.get(ids[name])
        if record is None or (role is not None and record["role"] != role):
            continue
        old = found.get(retiring.get(name, ""))
        listings.append(
            TokenListing(
                Principal.from_record(record),
                issued_at=_moment(record.get("issued_at")),
                rotated_at=_moment(record.get("rotated_at")),
                previous_valid_until=_moment(old["expires_at"]) if old else None,
            )
        )
    return listings


def principal_for(client: Client, token: str) -> Principal | None:
    """Whose token this is, expired or not (None: unknown or revoked)."""
    raw: Any = client.hget(TOKENS_KEY, _digest(token))
    if raw is None:
        return None
    return Principal.from_record(json.loads(raw))
