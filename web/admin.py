"""The admins' API: issue (with an expiry), list (by role), rotate and revoke access tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from dispatch.storage.couriers import load_couriers
from dispatch.storage.tokens import ROLES, issue_token, list_tokens, revoke_token, rotate_token
from web.auth import allow
from web.bodies import ExpiryBody, RotationBody, TokenBody
from web.errors import ApiError, invalid_parameters
from web.params import MOMENT_RULE, QueryReader, takes_query
from web.services import catalogue_index, now, redis_client

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@bp.post("/tokens")
@allow("admin")
def create_token() -> ResponseReturnValue:
    """A new token; the secret is in this answer only (Redis keeps its hash)."""
    asked = TokenBody.read()
    role, subject, label = asked.role, asked.subject, asked.label
    at = now()
    expires_at = expiry_of(asked, at=at)
    refusal = unknown_subject(role, subject)
    if refusal is not None:
        raise ApiError(422, "unknown_subject", refusal, {"field": "subject", "id": subject})
    principal, token = issue_token(redis_client(), role, subject, label=label, at=at,
                                   expires_at=expires_at)  # fmt: skip
    return jsonify(token=token, **principal.to_record()), 201


def expiry_of(asked: ExpiryBody, *, at: datetime) -> datetime | None:
    """When a token issued (or rotated) now should expire: ``ttl_s`` seconds from now or at
    ``expires_at``, which must be after now (None: until revoked)."""
    expires = asked.expiry(at=at)
    if asked.expires_at is not None and expires is not None and expires <= at:
        raise invalid_parameters({"expires_at": f"{MOMENT_RULE}, in the future"})
    return expires


def unknown_subject(role: str, subject: Any) -> str | None:
    """Why a store or courier token cannot be issued for ``subject``: one that does not exist
    would let in nobody now and whoever is registered under that id later."""
    if role == "store" and catalogue_index().get(subject) is None:
        return f"no store with id {subject!r} in the catalogue"
    if role == "courier" and subject not in {c.id for c in load_couriers(redis_client())}:
        return f"no registered courier with id {subject!r}"
    return None


@bp.get("/tokens")
@takes_query("role")
@allow("admin")
def get_tokens() -> ResponseReturnValue:
    """Every token, or one role's: who it acts for, label, expiry; never a secret."""
    args = QueryReader(request.args)
    roles = args.choices("role", allowed=ROLES)
    args.finish()
    at = now()
    tokens = [
        listing.to_record() | {"expired": listing.principal.has_expired(at)}
        for listing in list_tokens(redis_client())
        if roles is None or listing.principal.role in roles
    ]
    return jsonify(tokens=tokens, count=len(tokens))


@bp.post("/tokens/<token_id>/rotate")
@allow("admin")
def rotate(token_id: str) -> ResponseReturnValue:
    """A new secret for the token (shown in this answer only); the old one stops now or after
    ``grace_s``. The expiry stays unless ``ttl_s`` or ``expires_at`` gives a new one."""
    asked = RotationBody.read()
    at = now()
    expires_at = expiry_of(asked, at=at)
    keep = asked.ttl_s is None and asked.expires_at is None
    try:
        grace = timedelta(seconds=asked.grace_s)
        rotated = rotate_token(redis_client(), token_id, at=at, grace=grace,
                               expires_at=expires_at, keep_expiry=keep)  # fmt: skip
    except ValueError as exc:  # an expired token rotated without a new expiry
        raise ApiError(409, "token_expired", str(exc), {"field": "ttl_s"}) from exc
    if rotated is None:
        raise ApiError(404, "token_not_found", f"no token with id {token_id!r}")
    principal, token, until = rotated
    return jsonify(token=token, **principal.to_record(), rotated_at=at.isoformat(),
                   previous_valid_until=None if until is None else until.isoformat())  # fmt: skip


@bp.delete("/tokens/<token_id>")
@allow("admin")
def delete_token(token_id: str) -> ResponseReturnValue:
    if not revoke_token(redis_client(), token_id):
        raise ApiError(404, "token_not_found", f"no token with id {token_id!r}")
    return jsonify(id=token_id, revoked=True)
