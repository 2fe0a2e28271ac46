"""Tokens in Redis: kept hashed, rotated with a grace, listed as typed values."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.storage.tokens import (
    RETIRING_KEY,
    TOKEN_IDS_KEY,
    TOKENS_KEY,
    Principal,
    TokenListing,
    issue_token,
    list_tokens,
    principal_for,
    revoke_token,
    rotate_token,
)
from tests.conftest import FIXED_NOW


def test_a_listing_is_the_stored_token_without_its_secret(redis_client: redis.Redis) -> None:
    """The list gives typed values: who, since when, rotated when, and the old secret's grace;
    its record for the API is the stored record without the secret, ``rotated_at`` once
    rotated."""
    later = FIXED_NOW + timedelta(hours=1)
    courier, _ = issue_token(redis_client, "courier", "c1", label="van", at=FIXED_NOW,
                             expires_at=FIXED_NOW + timedelta(days=2))  # fmt: skip
    admin, secret = issue_token(redis_client, "admin", None, at=FIXED_NOW)
    assert rotate_token(redis_client, admin.token_id, at=later, grace=timedelta(minutes=5))
    listed = {t.principal.token_id: t for t in list_tokens(redis_client)}
    assert listed[courier.token_id] == TokenListing(courier, FIXED_NOW, None, None)
    assert listed[admin.token_id] == TokenListing(
        admin, FIXED_NOW, later, later + timedelta(minutes=5)
    )
    assert "rotated_at" not in listed[courier.token_id].to_record()
    assert listed[admin.token_id].to_record() == {
        "id": admin.token_id, "role": "admin", "subject": None, "label": "",
        "expires_at": None, "issued_at": FIXED_NOW.isoformat(), "rotated_at": later.isoformat(),
        "previous_valid_until": (later + timedelta(minutes=5)).isoformat(),
    }  # fmt: skip
    assert [t.principal for t in list_tokens(redis_client, role="courier")] == [courier]
    assert principal_for(redis_client, secret) == Principal(
        admin.token_id, "admin", None, "", later + timedelta(minutes=5)
    )
    assert revoke_token(redis_client, admin.token_id)
    assert principal_for(redis_client, secret) is None
    assert not revoke_token(redis_client, admin.token_id)
    assert [t.principal for t in list_tokens(redis_client)] == [courier]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 3600), st.integers(0, 7200)), min_size=1, max_size=6))
def test_after_any_rotations_only_the_newest_and_one_old_secret_in_grace_work(
    redis_client: redis.Redis, steps: list[tuple[int, int]]
) -> None:
    """Rotations at any pace with any grace: the newest secret works, the one before it works
    exactly while its grace lasts, every older one never does; the list shows the id once."""
    redis_client.delete(TOKENS_KEY, TOKEN_IDS_KEY, RETIRING_KEY)
    at = FIXED_NOW
    principal, first = issue_token(redis_client, "dispatcher", None, at=at)
    secrets = [first]
    for wait_s, grace_s in steps:
        at += timedelta(seconds=wait_s)
        rotated = rotate_token(redis_client, principal.token_id, at=at,
                               grace=timedelta(seconds=grace_s))  # fmt: skip
        assert rotated is not None
        secrets.append(rotated[1])
        probe = at + timedelta(seconds=1)

        def works(secret: str, moment: datetime = probe) -> bool:
            found = principal_for(redis_client, secret)
            return found is not None and not found.has_expired(moment)

        assert works(secrets[-1])
        assert works(secrets[-2]) == (grace_s > 1)
        assert not any(works(old) for old in secrets[:-2])
        assert [t.principal.token_id for t in list_tokens(redis_client)] == [principal.token_id]
