"""The admins' API: issue, list and revoke access tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from dispatch import fleet
from web.auth import BOUND_ROLES, ROLES, allow, issue_token, list_tokens, revoke_token
from web.errors import ApiError, invalid_parameters
from web.params import SAFE_ID, is_safe_id, json_object, refuse_unknown
from web.services import catalogue_index, now, redis_client

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@bp.post("/tokens")
@allow("admin")
def create_token() -> ResponseReturnValue:
    """A new token; the secret is in this answer only (Redis keeps its hash)."""
    body = json_object(max_bytes=4_000)
    role, subject, label = body.get("role"), body.get("subject"), body.get("label", "")
    problems: dict[str, str] = {}
    refuse_unknown(body, ("role", "subject", "label"), problems)
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
    principal, token = issue_token(redis_client(), str(role), subject, label=label, at=now())
    return jsonify(token=token, **principal.to_record()), 201


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
    if role == "courier" and subject not in {c.id for c in fleet.load_couriers(redis_client())}:
        return f"no registered courier with id {subject!r}"
    return None


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
