"""Rate limits across workers, per caller, behind trusted proxies."""

from __future__ import annotations

from dataclasses import replace

import redis

from dispatch.settings import Settings
from tests.conftest import bearer, make_app, token_for

NEARBY = "/api/v1/stores/nearby?lat=24.18&lng=120.6"


def test_the_limit_holds_across_workers_and_per_caller(
    settings: Settings, redis_client: redis.Redis
) -> None:
    strict = replace(settings, rate_limit_per_minute=5)
    first, second = (make_app(strict, redis_client).test_client() for _ in range(2))
    anonymous = {"Authorization": ""}
    here = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(3):
        assert first.get(NEARBY, headers=anonymous, environ_overrides=here).status_code == 200
    for _ in range(2):  # the other worker counts on the same Redis
        assert second.get(NEARBY, headers=anonymous, environ_overrides=here).status_code == 200
    refused = second.get(NEARBY, headers=anonymous, environ_overrides=here)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    assert first.get(NEARBY, headers=anonymous, environ_overrides=elsewhere).status_code == 200
    # a courier's phone is counted by its token, not by the address it shares
    courier = bearer(token_for(redis_client, "courier", "c1"))
    for _ in range(5):
        assert (
            first.get("/api/v1/courier/legs", headers=courier, environ_overrides=here).status_code
            == 200
        )
    assert first.get("/api/v1/courier/legs", headers=courier).status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Two shoppers behind one load balancer: counted apart once the proxy is trusted, and a
    forged header from a client that is not the proxy's does not buy a fresh limit."""
    anonymous = {"Authorization": ""}
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    trusting = make_app(replace(settings, rate_limit_per_minute=2, trusted_proxies=1),
                        redis_client).test_client()  # fmt: skip
    for shopper in ("198.51.100.7", "203.0.113.9"):
        forwarded = anonymous | {"X-Forwarded-For": shopper}
        for _ in range(2):
            assert (
                trusting.get(NEARBY, headers=forwarded, environ_overrides=balancer).status_code
                == 200
            )
    forged = anonymous | {"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}  # the proxy appends
    assert trusting.get(NEARBY, headers=forged, environ_overrides=balancer).status_code == 429
    naive = make_app(replace(settings, rate_limit_per_minute=2), redis_client).test_client()
    other = anonymous | {"X-Forwarded-For": "192.0.2.50"}  # ignored: the proxy's address counts
    for expected in (200, 200, 429):
        assert (
            naive.get(
                NEARBY, headers=other, environ_overrides={"REMOTE_ADDR": "10.0.0.3"}
            ).status_code
            == expected
        )
