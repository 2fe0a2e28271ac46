"""The admins' API: issue (with an expiry), list (by role), rotate and revoke access tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from dispatch.storage.couriers import load_couriers
from dispatch.storage.tokens import (
    BOUND_ROLES,
    MAX_GRACE,
    ROLES,
    issue_token,
    list_tokens,
    revoke_token,
    rotate_token,
)
from web.auth import allow
from web.errors import ApiError, invalid_parameters
from web.params import (
    LATEST,
    MOMENT_RULE,
    SAFE_ID,
    QueryReader,
    is_safe_id,
    json_object,
    parse_moment,
    refuse_unknown,
    takes_query,
)
from web.services import catalogue_index, now, redis_client

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@bp.post("/tokens")
@allow("admin")
def create_token() -> ResponseReturnValue:
    """A new token; the secret is in this answer only (Redis keeps its hash)."""
    body = json_object(max_bytes=4_000)
    role, subject, label = body.get("role"), body.get("subject"), body.get("label", "")
    problems: dict[str, str] = {}
    refuse_unknown(body, ("role", "subject", "label", "ttl_s", "expires_at"), problems)
    at = now()
    expires_at = expiry_of(body, problems, at=at)
    if role not in ROLES:
        problems["role"] = f"must be one of {', '.join(ROLES)}"
    else:
        problem = subject_problem(str(role), subject)
        if problem is not None:
            problems["subject"] = problem
    if not isinstance(label, str) or len(label) > 200:
        problems["label"] = "must be a string of at most 200 characters"
    if problems:
        raise invalid_parameters(problems)
    refusal = unknown_subject(str(role), subject)
    if refusal is not None:
        raise ApiError(422, "unknown_subject", refusal, {"field": "subject", "id": subject})
    principal, token = issue_token(redis_client(), str(role), subject, label=label, at=at,
                                   expires_at=expires_at)  # fmt: skip
    return jsonify(token=token, **principal.to_record()), 201


MIN_TTL_S, MAX_TTL_S = 60, 366 * 86_400


def expiry_of(body: dict[str, Any], problems: dict[str, str], *, at: datetime) -> datetime | None:
    """When a token issued now should expire: ``ttl_s`` seconds from now or at ``expires_at``
    (one of them at most; None: until revoked)."""
    ttl, moment = body.get("ttl_s"), body.get("expires_at")
    if ttl is not None and moment is not None:
        problems["ttl_s"] = "give ttl_s or expires_at, not both"
        return None
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL_S <= ttl <= MAX_TTL_S:
            problems["ttl_s"] = f"a whole number of seconds from {MIN_TTL_S} to {MAX_TTL_S}"
            return None
        return at + timedelta(seconds=ttl)
    if moment is not None:
        expires = parse_moment(moment)
        if expires is None or not at < expires < LATEST:
            problems["expires_at"] = f"{MOMENT_RULE}, in the future"
            return None
        return expires
    return None


def subject_problem(role: str, subject: Any) -> str | None:
    """What is wrong with ``subject`` as the subject of a ``role`` token, if anything."""
    if role not in BOUND_ROLES:
        return None if subject is None else f"a {role} token acts for no one: leave it out"
    if subject is None:
        return f"required: the {role} id a {role} token acts for"
    if not is_safe_id(subject):
        return f"an id of 1 to 128 characters matching {SAFE_ID}"
    return None


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
    body = json_object(max_bytes=4_000)
    problems: dict[str, str] = {}
    refuse_unknown(body, ("grace_s", "ttl_s", "expires_at"), problems)
    grace = body.get("grace_s", 0)
    most = int(MAX_GRACE.total_seconds())
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= most:
        problems["grace_s"] = f"a whole number of seconds from 0 to {most}"
    at = now()
    expires_at = expiry_of(body, problems, at=at)
    if problems:
        raise invalid_parameters(problems)
    keep = body.get("ttl_s") is None and body.get("expires_at") is None
    try:
        rotated = rotate_token(redis_client(), token_id, at=at, grace=timedelta(seconds=grace),
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
