"""Roles: no token is a 401, the wrong role a 403, someone else's object a 404 (never the data)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch.storage.tokens import TOKENS_KEY, list_tokens
from tests.conftest import bearer, token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body, place

FULIN = "osm-way-617553270"


@pytest.fixture
def order(shop: FlaskClient) -> dict[str, Any]:
    response = place(shop, order_body("R-1"))
    assert response.status_code == 201
    return dict(response.get_json()["order"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/dispatch/plan"), ("post", "/api/v1/dispatch/replan"),
        ("get", "/api/v1/couriers"), ("post", "/api/v1/orders"),
        ("get", "/api/v1/courier/legs"), ("get", "/api/v1/admin/tokens"),
        ("get", f"/api/v1/stores/{FULIN}/orders"),
    ],
)  # fmt: skip
def test_no_token_or_a_bad_one_is_401(shop: FlaskClient, method: str, path: str) -> None:
    for headers in ({"Authorization": ""}, bearer("not-a-token"), {"Authorization": "Basic x"}):
        response = getattr(shop, method)(path, headers=headers, json={})
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_public_things_need_no_token(shop: FlaskClient) -> None:
    anonymous = {"Authorization": ""}
    query = {"lat": 24.18, "lng": 120.6}
    assert (
        shop.get("/api/v1/stores/nearby", query_string=query, headers=anonymous).status_code == 200
    )
    assert shop.get("/api/v1/products", headers=anonymous).status_code == 200


def test_a_shopper_token_cannot_dispatch(shop: FlaskClient, redis_client: redis.Redis) -> None:
    shopper = bearer(token_for(redis_client, "shopper", "alice"))
    for method, path in (("get", "/api/v1/dispatch/plan"), ("post", "/api/v1/dispatch/replan"),
                         ("post", "/api/v1/couriers"), ("get", "/api/v1/admin/tokens"),
                         ("post", "/api/v1/orders/batch")):  # fmt: skip
        response = getattr(shop, method)(path, headers=shopper, json={})
        assert response.status_code == 403, path
        assert response.get_json()["error"]["code"] == "forbidden"


def test_shoppers_see_only_their_own_orders(shop: FlaskClient, redis_client: redis.Redis) -> None:
    alice = bearer(token_for(redis_client, "shopper", "alice"))
    bob = bearer(token_for(redis_client, "shopper", "bob"))
    placed = place(shop, order_body("S-1"), **alice)
    assert placed.status_code == 201
    order = placed.get_json()["order"]
    assert order["shopper_id"] == "alice"
    assert shop.get(f"/api/v1/orders/{order['id']}", headers=alice).status_code == 200
    hidden = shop.get(f"/api/v1/orders/{order['id']}", headers=bob)
    assert hidden.status_code == 404 and "customer" not in hidden.get_data(as_text=True)
    assert shop.post(f"/api/v1/orders/{order['id']}/cancel", headers=bob).status_code == 404
    # the same channel id from another shopper is bob's own order: nothing of alice's shows
    again = place(shop, order_body("S-1"), **bob)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert order["id"] not in again.get_data(as_text=True)
    assert shop.post(f"/api/v1/orders/{order['id']}/cancel", headers=alice).status_code == 200


def test_store_staff_see_only_their_store(
    shop: FlaskClient, redis_client: redis.Redis, order: dict[str, Any]
) -> None:
    mine = bearer(token_for(redis_client, "store", order["store_id"]))
    other = bearer(token_for(redis_client, "store", "osm-node-2358645450"))
    path = f"/api/v1/stores/{order['store_id']}/orders"
    assert shop.get(path, headers=mine).get_json()["count"] == 1
    assert shop.get(path, headers=other).status_code == 404
    assert shop.get(f"/api/v1/orders/{order['id']}", headers=other).status_code == 404
    assert shop.get(f"/api/v1/stores/{order['store_id']}/stats", headers=other).status_code == 404
    moved = shop.post(f"/api/v1/orders/{order['id']}/status", headers=other,
                      json={"status": "ready"})  # fmt: skip
    assert moved.status_code == 404
    # their own: preparation steps only, not the courier's
    status = f"/api/v1/orders/{order['id']}/status"
    assert shop.post(status, headers=mine, json={"status": "preparing"}).status_code == 200
    assert shop.post(status, headers=mine, json={"status": "delivered"}).status_code == 400
    assert shop.post(status, headers=mine, json={"status": "ready"}).status_code == 200


def test_couriers_ping_only_as_themselves(shop: FlaskClient, redis_client: redis.Redis) -> None:
    for courier_id in ("c1", "c2"):
        assert shop.post("/api/v1/couriers", json=courier_body(courier_id)).status_code == 201
    c1 = bearer(token_for(redis_client, "courier", "c1"))
    spot = {"lat": 24.18, "lng": 120.6}
    assert shop.post("/api/v1/couriers/c1/position", headers=c1, json=spot).status_code == 200
    assert shop.post("/api/v1/couriers/c2/position", headers=c1, json=spot).status_code == 404


def test_tokens_are_kept_hashed_and_can_be_revoked(
    app: Flask, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    made = shop.post("/api/v1/admin/tokens", json={"role": "dispatcher", "label": "night"})
    assert made.status_code == 201
    token, token_id = made.get_json()["token"], made.get_json()["id"]
    dump = b"".join(v for v in redis_client.hvals(TOKENS_KEY))  # type: ignore[union-attr]
    assert token.encode() not in dump, "the secret itself must not be stored"
    assert shop.get("/api/v1/dispatch/plan", headers=bearer(token)).status_code == 200
    assert token_id in {t["id"] for t in shop.get("/api/v1/admin/tokens").get_json()["tokens"]}
    assert shop.delete(f"/api/v1/admin/tokens/{token_id}").status_code == 200
    assert shop.get("/api/v1/dispatch/plan", headers=bearer(token)).status_code == 401
    assert shop.delete(f"/api/v1/admin/tokens/{token_id}").status_code == 404
    # the CLI issues and revokes too
    runner = app.test_cli_runner()
    assert shop.post("/api/v1/couriers", json=courier_body("c9")).status_code == 201
    issued = runner.invoke(args=["tokens", "issue", "--role", "courier", "--subject", "c9"])
    assert issued.exit_code == 0, issued.output
    cli_id, cli_token = issued.output.split()
    assert shop.get("/api/v1/courier/legs", headers=bearer(cli_token)).status_code == 200
    assert runner.invoke(args=["tokens", "revoke", cli_id]).exit_code == 0
    assert cli_id not in {t.principal.token_id for t in list_tokens(redis_client)}


@pytest.mark.parametrize(
    "body",
    [{"role": "king"}, {"role": "courier"}, {"role": "admin", "subject": "x"},
     {"role": "store", "subject": 7}, {"role": "store", "subject": "s", "label": 3}],
)  # fmt: skip
def test_bad_token_requests(shop: FlaskClient, body: dict[str, Any]) -> None:
    response = shop.post("/api/v1/admin/tokens", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_parameter"


def test_a_bad_label_is_named_as_the_label(shop: FlaskClient) -> None:
    """A label with a lone surrogate is a 400 naming label (it named subject, with the codec's
    own words)."""
    text = '{"role": "dispatcher", "label": "night \\ud800"}'
    response = shop.post("/api/v1/admin/tokens", data=text, content_type="application/json")
    assert response.status_code == 400
    fields = response.get_json()["error"]["details"]["fields"]
    assert list(fields) == ["label"] and "codec" not in fields["label"]


@pytest.mark.parametrize(
    ("role", "subject"), [("courier", "ghost"), ("store", "osm-node-1"), ("courier", "../../x")]
)
def test_tokens_only_for_couriers_and_stores_that_exist(
    app: Flask, shop: FlaskClient, redis_client: redis.Redis, role: str, subject: str
) -> None:
    """A courier or store token for an id nobody has is refused (422, or 400 for an unsafe id),
    by the API and the CLI alike; nothing is issued."""
    response = shop.post("/api/v1/admin/tokens", json={"role": role, "subject": subject})
    assert response.status_code in (400, 422)
    assert "subject" in json.dumps(response.get_json()["error"]["details"])
    issued = app.test_cli_runner().invoke(
        args=["tokens", "issue", "--role", role, "--subject", subject]
    )
    assert issued.exit_code != 0 and "--subject" in issued.output
    assert [t.principal.role for t in list_tokens(redis_client)] == ["admin"]
    assert shop.post("/api/v1/couriers", json=courier_body("c1")).status_code == 201
    for role, subject in (("courier", "c1"), ("store", "osm-way-617553270")):
        made = shop.post("/api/v1/admin/tokens", json={"role": role, "subject": subject})
        assert made.status_code == 201, made.get_json()
