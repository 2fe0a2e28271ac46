"""The admins' API: issue, list and revoke access tokens."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from web.auth import ROLES, allow, issue_token, list_tokens, revoke_token
from web.errors import ApiError, invalid_parameters
from web.params import json_object
from web.services import now, redis_client

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@bp.post("/tokens")
@allow("admin")
def create_token() -> ResponseReturnValue:
    """A new token; the secret is in this answer only (Redis keeps its hash)."""
    body = json_object(max_bytes=4_000)
    role, subject, label = body.get("role"), body.get("subject"), body.get("label", "")
    problems: dict[str, str] = {}
    if role not in ROLES:
        problems["role"] = f"must be one of {', '.join(ROLES)}"
    if subject is not None and (not isinstance(subject, str) or not 0 < len(subject) <= 128):
        problems["subject"] = "must be the shopper, store or courier id (1-128 characters)"
    if not isinstance(label, str) or len(label) > 200:
        problems["label"] = "must be a string of at most 200 characters"
    if problems:
        raise invalid_parameters(problems)
    try:
        principal, token = issue_token(redis_client(), str(role), subject, label=label, at=now())
    except ValueError as exc:
        raise invalid_parameters({"subject": str(exc)}) from exc
    return jsonify(token=token, **principal.to_record()), 201


@bp.get("/tokens")
@allow("admin")
def get_tokens() -> ResponseReturnValue:
    tokens = list_tokens(redis_client())
    return jsonify(tokens=tokens, count=len(tokens))


@bp.delete("/tokens/<token_id>")
@allow("admin")
def delete_token(token_id: str) -> ResponseReturnValue:
    if not revoke_token(redis_client(), token_id):
        raise ApiError(404, "token_not_found", f"no token with id {token_id!r}")
    return jsonify(id=token_id, revoked=True)
