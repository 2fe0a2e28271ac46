"""Token expiry, rotation (with and without a grace period) and the admin's list by role."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.settings import Settings as AppSettings
from dispatch.storage.tokens import RETIRING_KEY, TOKENS_KEY
from tests.conftest import FIXED_NOW, bearer, make_app
from tests.web.conftest import courier_body


@pytest.fixture
def clocked(settings: AppSettings, redis_client: redis.Redis, app: Any) -> tuple[FlaskClient, list]:
    """An admin client over an app whose clock the test moves (``moment[0]``)."""
    moment = [FIXED_NOW]
    return make_app(settings, redis_client, clock=lambda: moment[0]).test_client(), moment


def issue(client: FlaskClient, **body: Any) -> dict[str, Any]:
    made = client.post("/api/v1/admin/tokens", json={"role": "dispatcher"} | body)
    assert made.status_code == 201, made.get_json()
    return dict(made.get_json())


def plan_status(client: FlaskClient, token: str) -> tuple[int, str | None]:
    answer = client.get("/api/v1/dispatch/plan", headers=bearer(token))
    error = answer.get_json().get("error") if answer.status_code != 200 else None
    return answer.status_code, error["code"] if error else None


def test_a_token_expires_after_its_ttl(clocked: tuple[FlaskClient, list]) -> None:
    """ttl_s: accepted until the expiry, then a 401 token_expired saying when it expired."""
    client, moment = clocked
    made = issue(client, ttl_s=3600)
    assert made["expires_at"] == (FIXED_NOW + timedelta(hours=1)).isoformat()
    moment[0] = FIXED_NOW + timedelta(minutes=59)
    assert plan_status(client, made["token"]) == (200, None)
    moment[0] = FIXED_NOW + timedelta(hours=1)
    expired = client.get("/api/v1/dispatch/plan", headers=bearer(made["token"]))
    assert expired.status_code == 401
    error = expired.get_json()["error"]
    assert error["code"] == "token_expired" and error["details"]["expired_at"] == made["expires_at"]
    listed = {t["id"]: t for t in client.get("/api/v1/admin/tokens").get_json()["tokens"]}
    assert listed[made["id"]]["expired"] is True  # kept for the record until revoked


def test_expires_at_is_an_absolute_moment(clocked: tuple[FlaskClient, list]) -> None:
    client, moment = clocked
    when = FIXED_NOW + timedelta(days=2)
    made = issue(client, expires_at=when.isoformat().replace("+00:00", "Z"))
    moment[0] = when - timedelta(seconds=1)
    assert plan_status(client, made["token"]) == (200, None)
    moment[0] = when
    assert plan_status(client, made["token"]) == (401, "token_expired")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ttl_s": 10}, "ttl_s"),
        ({"ttl_s": True}, "ttl_s"),
        ({"ttl_s": "3600"}, "ttl_s"),
        ({"ttl_s": 3600, "expires_at": "2030-01-01T00:00:00Z"}, "ttl_s"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": "2027-01-01T00:00:00"}, "expires_at"),
    ],
)
def test_bad_expiries_are_named(shop: FlaskClient, body: dict[str, Any], field: str) -> None:
    response = shop.post("/api/v1/admin/tokens", json={"role": "dispatcher"} | body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]


def test_rotation_without_grace_stops_the_old_secret_at_once(
    clocked: tuple[FlaskClient, list], redis_client: redis.Redis
) -> None:
    """Same id, role and expiry; new secret works, old one is a 401 unknown; nothing of the
    old secret is left in Redis."""
    client, _ = clocked
    made = issue(client, label="night desk", ttl_s=86_400)
    rotated = client.post(f"/api/v1/admin/tokens/{made['id']}/rotate", json={})
    assert rotated.status_code == 200, rotated.get_json()
    new = rotated.get_json()
    assert new["id"] == made["id"] and new["token"] != made["token"]
    assert new["expires_at"] == made["expires_at"] and new["label"] == "night desk"
    assert new["previous_valid_until"] is None
    assert plan_status(client, made["token"]) == (401, "unauthorized")
    assert plan_status(client, new["token"]) == (200, None)
    old_digest = hashlib.sha256(made["token"].encode()).hexdigest()
    assert redis_client.hget(TOKENS_KEY, old_digest) is None
    assert not redis_client.hgetall(RETIRING_KEY)


def test_rotation_with_grace_keeps_the_old_secret_for_a_while(
    clocked: tuple[FlaskClient, list],
) -> None:
    client, moment = clocked
    made = issue(client)
    rotated = client.post(
        f"/api/v1/admin/tokens/{made['id']}/rotate", json={"grace_s": 600, "ttl_s": 7200}
    ).get_json()
    assert rotated["previous_valid_until"] == (FIXED_NOW + timedelta(minutes=10)).isoformat()
    assert rotated["expires_at"] == (FIXED_NOW + timedelta(hours=2)).isoformat()
    moment[0] = FIXED_NOW + timedelta(minutes=9)
    assert plan_status(client, made["token"]) == (200, None)
    assert plan_status(client, rotated["token"]) == (200, None)
    listed = {t["id"]: t for t in client.get("/api/v1/admin/tokens").get_json()["tokens"]}
    assert list(listed).count(made["id"]) == 1  # one token, whatever its secrets
    assert listed[made["id"]]["previous_valid_until"] == rotated["previous_valid_until"]
    moment[0] = FIXED_NOW + timedelta(minutes=10)
    assert plan_status(client, made["token"]) == (401, "token_expired")
    assert plan_status(client, rotated["token"]) == (200, None)
    # a second rotation ends the first one's grace; revoking ends every secret of the id
    again = client.post(f"/api/v1/admin/tokens/{made['id']}/rotate", json={"grace_s": 60})
    second = again.get_json()
    assert plan_status(client, rotated["token"]) == (200, None)  # in its own grace now
    assert client.delete(f"/api/v1/admin/tokens/{made['id']}").status_code == 200
    assert plan_status(client, rotated["token"]) == (401, "unauthorized")
    assert plan_status(client, second["token"]) == (401, "unauthorized")


def test_rotation_errors(clocked: tuple[FlaskClient, list]) -> None:
    client, moment = clocked
    made = issue(client, ttl_s=60)
    missing = client.post("/api/v1/admin/tokens/tok_nobody/rotate", json={})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "token_not_found"
    for body, field in (
        ({"grace_s": -1}, "grace_s"),
        ({"grace_s": 10**9}, "grace_s"),
        ({"grace": 5}, "grace"),
    ):
        bad = client.post(f"/api/v1/admin/tokens/{made['id']}/rotate", json=body)
        assert bad.status_code == 400 and field in bad.get_json()["error"]["details"]["fields"]
    moment[0] = FIXED_NOW + timedelta(minutes=5)
    stale = client.post(f"/api/v1/admin/tokens/{made['id']}/rotate", json={})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "token_expired"
    renewed = client.post(f"/api/v1/admin/tokens/{made['id']}/rotate", json={"ttl_s": 600})
    assert renewed.status_code == 200
    assert plan_status(client, renewed.get_json()["token"]) == (200, None)


def test_admins_list_tokens_by_role_without_secrets(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    secrets = [
        issue(shop, role="courier", subject="c1")["token"],
        issue(shop)["token"],
        issue(shop, role="shopper", subject="u1")["token"],
    ]
    couriers = shop.get("/api/v1/admin/tokens", query_string={"role": "courier"}).get_json()
    assert [(t["role"], t["subject"]) for t in couriers["tokens"]] == [("courier", "c1")]
    assert couriers["count"] == 1
    both = shop.get("/api/v1/admin/tokens", query_string={"role": "courier,shopper"}).get_json()
    assert sorted(t["role"] for t in both["tokens"]) == ["courier", "shopper"]
    everything = shop.get("/api/v1/admin/tokens").get_json()
    text = json.dumps(everything)
    assert not any(secret in text for secret in secrets)
    digests = [d.decode() for d in redis_client.hkeys(TOKENS_KEY)]  # type: ignore[union-attr]
    assert not any(digest in text for digest in digests)
    assert {t["role"] for t in everything["tokens"]} == {
        "admin",
        "courier",
        "dispatcher",
        "shopper",
    }
    bad = shop.get("/api/v1/admin/tokens", query_string={"role": "king"})
    assert bad.status_code == 400 and "role" in bad.get_json()["error"]["details"]["fields"]
    # only an admin may look
    dispatcher = issue(shop)["token"]
    refused = shop.get("/api/v1/admin/tokens", headers=bearer(dispatcher))
    assert refused.status_code == 403
    rotate = shop.post("/api/v1/admin/tokens/x/rotate", json={}, headers=bearer(dispatcher))
    assert rotate.status_code == 403


def test_the_cli_issues_a_token_with_a_ttl(app: Any, shop: FlaskClient) -> None:
    issued = app.test_cli_runner().invoke(
        args=["tokens", "issue", "--role", "dispatcher", "--ttl-s", "120"]
    )
    assert issued.exit_code == 0, issued.output
    token_id, _ = issued.output.split()
    listed = {t["id"]: t for t in shop.get("/api/v1/admin/tokens").get_json()["tokens"]}
    assert listed[token_id]["expires_at"] == (FIXED_NOW + timedelta(seconds=120)).isoformat()
