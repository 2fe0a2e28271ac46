"""Hostile input at every endpoint: always a 2xx or a 4xx JSON error naming the field, never a
500, and nothing written on refusal (hand-picked cases, then hypothesis-drawn ones)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
import redis
from flask import Flask, url_for
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from tests.conftest import FIXED_NOW, bearer, keyspace, token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body
from web.params import query_params_of

JUNK: list[Any] = [
    None, [], "text", 42, {"": None}, {"items": [[1, 2]]}, {"items": [{"sku": None, "qty": "1"}]},
    {"lat": [24.1], "lng": {"x": 1}}, {"status": ["ready"]}, {"courier_id": 7},
    {"orders": [None, 1, "x"]}, {"mode": "set", "items": [{"sku": "apple", "qty": 10**30}]},
    {"id": "c", "vehicle": "car", "capacity": 2, "shift_start": "2026-01-01T00:00:00+00:00",
     "shift_end": "garbage", "home": [1, 2]},
]  # fmt: skip
ENDPOINTS = [
    "/api/v1/orders",
    "/api/v1/orders/batch",
    "/api/v1/orders/nope/status",
    "/api/v1/stores/osm-way-617553270/stock",
    "/api/v1/couriers",
    "/api/v1/couriers/nope/position",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_junk_bodies_are_refused_cleanly(
    shop: FlaskClient, redis_client: redis.Redis, path: str
) -> None:
    """Every junk body gets a 4xx JSON error; no order, stock change or courier appears."""
    before = stored_orders.stock_levels(redis_client, keyspace("osm-way-617553270"))
    for body in JUNK:
        response = shop.post(path, json=body)
        if path.endswith("/batch") and response.status_code == 200:
            # a well-formed envelope of junk orders: each one is refused in its place
            results = response.get_json()["results"]
            assert results and all(400 <= r["status"] < 500 for r in results)
            continue
        assert 400 <= response.status_code < 500, (path, body, response.status_code)
        assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
    assert stored_orders.stock_levels(redis_client, keyspace("osm-way-617553270")) == before
    assert not redis_client.exists("couriers")


def test_pins_with_junk(shop: FlaskClient) -> None:
    """Pins need a JSON object naming a known courier."""
    for body in JUNK:
        response = shop.put("/api/v1/dispatch/pins/nope", json=body)
        assert 400 <= response.status_code < 500


FULIN = "osm-way-617553270"
# Each write endpoint with a body it accepts (or refuses only for what the body names), and the
# role that sends it: the base of the field-by-field poisoning below.
VALID: list[tuple[str, str, str, dict[str, Any]]] = [
    ("post", "/api/v1/orders", "admin", order_body()),
    ("post", "/api/v1/orders/batch", "admin", {"orders": [order_body()]}),
    ("post", "/api/v1/couriers", "admin", courier_body("c9")),
    ("post", "/api/v1/couriers/c0/position", "admin", {"lat": 24.18, "lng": 120.6}),
    (
        "post",
        "/api/v1/courier/events",
        "courier",
        {
            "event_id": "e-1",
            "order_id": "none",
            "type": "failed",
            "reason": "closed",
            "proof": {"code": "1234", "photo_ref": "p"},
        },
    ),
    (
        "post",
        "/api/v1/courier/pings",
        "courier",
        {"pings": [{"lat": 24.18, "lng": 120.6, "at": FIXED_NOW.isoformat()}]},
    ),
    ("post", "/api/v1/admin/tokens", "admin", {"role": "shopper", "subject": "s-1", "label": "me"}),
    (
        "post",
        f"/api/v1/stores/{FULIN}/stock",
        "admin",
        {"mode": "adjust", "items": [{"sku": "water-600ml", "qty": 1}]},
    ),
    ("post", "/api/v1/orders/none/status", "admin", {"status": "ready", "note": "n"}),
    ("put", "/api/v1/dispatch/pins/none", "admin", {"courier_id": "c0", "allow_late": False}),
]
BODYLESS: list[tuple[str, str, str, dict[str, Any]]] = [  # they take none: a body changes nothing
    ("post", "/api/v1/orders/none/cancel", "admin", {}),
    ("post", "/api/v1/orders/none/unlock-code", "admin", {}),
    ("delete", "/api/v1/dispatch/pins/none", "admin", {}),
    ("delete", "/api/v1/admin/tokens/tok_none", "admin", {}),
]  # fmt: skip
BIG = 10**400  # digits no double can hold


def poisoned(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every way to spoil one leaf of ``value``: (the leaf's path, the spoilt whole)."""
    if isinstance(value, dict):
        for key, member in value.items():
            inner = f"{path}.{key}" if path else key
            for where, bad in poisoned(member, inner):
                yield where, value | {key: bad}
    elif isinstance(value, list):
        for i, member in enumerate(value):
            for where, bad in poisoned(member, f"{path}[{i}]"):
                yield where, [*value[:i], bad, *value[i + 1 :]]
    elif isinstance(value, str):
        yield path, value + "\ud800"
        yield path, "\udfff" + value
        yield path, value[:1] + "\x00" + value[1:]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, BIG
        yield path, -BIG


def redis_state(client: redis.Redis) -> dict[bytes, Any]:
    """Everything in Redis but the rate-limit counters (refused requests count too)."""
    return {
        key: client.dump(key) for key in client.scan_iter() if not key.startswith(b"ratelimit:")
    }


def send(shop: FlaskClient, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
    # the standard library escapes lone surrogates as \ud800, as a client would send them
    text = json.dumps(body)
    return getattr(shop, method)(path, data=text, content_type="application/json", headers=headers)


@pytest.mark.parametrize(("method", "path", "role", "body"), VALID, ids=[v[1] for v in VALID])
def test_no_field_takes_a_lone_surrogate_a_control_character_or_a_number_past_a_double(
    shop: FlaskClient,
    redis_client: redis.Redis,
    method: str,
    path: str,
    role: str,
    body: dict[str, Any],
) -> None:
    """Each text field with a lone surrogate or a NUL, each number with 400 digits: a 400
    naming that field, nothing written (before: 500s, some after a write had begun)."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    headers = bearer(token_for(redis_client, "courier", "c0")) if role == "courier" else {}
    before = redis_state(redis_client)
    for where, bad in poisoned(body):
        response = send(shop, method, path, headers, bad)
        assert response.status_code == 400, (where, response.status_code, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == "invalid_parameter", (where, error)
        assert where in error["details"]["fields"], (where, error)
        assert "codec" not in json.dumps(error), error
    assert redis_state(redis_client) == before


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"role": "admin", "label": "a", "label": "b"}', "label"),
        ('{"role": "admin", "label": NaN}', "label"),
        ('{"role": "admin", "label": -Infinity}', "label"),
        ('{"role": "admin", "label": 1e400}', "label"),
        ('{"role": "admin", "\\ud800": 1}', "'\\ud800'"),
        (
            '{"role": "admin", "label": ' + "[" * 20 + "1" + "]" * 20 + "}",
            "label" + "[0]" * 15,
        ),
    ],
)
def test_json_that_no_field_can_mean_is_refused_by_name(
    shop: FlaskClient, redis_client: redis.Redis, text: str, field: str
) -> None:
    """NaN and Infinity spellings, overflowing numbers, a name given twice, a name with a lone
    surrogate and deep nesting: a 400 naming where, the answer itself valid UTF-8 JSON."""
    before = redis_state(redis_client)
    response = shop.post("/api/v1/admin/tokens", data=text, content_type="application/json")
    assert response.status_code == 400, response.data
    assert field in response.get_json()["error"]["details"]["fields"], response.get_json()
    assert redis_state(redis_client) == before


@pytest.mark.parametrize("data", [b"\xff\xfe{}", b"[" * 100_000, b'{"a": 1' + b"0" * 5000 + b"}"])
def test_bodies_that_are_not_json_are_refused(shop: FlaskClient, data: bytes) -> None:
    """Not UTF-8, nesting past the parser's recursion, an integer of 5000 digits: a 4xx."""
    response = shop.post("/api/v1/admin/tokens", data=data, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_unknown_fields_are_named_wherever_they_are(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """A field the service does not know, at the top or inside an item, a home or a proof, is a
    400 naming it (inside order items they were dropped in silence); nothing is written."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    courier = bearer(token_for(redis_client, "courier", "c0"))
    before = redis_state(redis_client)
    cases: list[tuple[str, str, dict[str, str], dict[str, Any], str]] = [
        ("post", "/api/v1/orders", {},
         order_body(items=[{"sku": "water-600ml", "qty": 1, "qyt": 2}]), "items[0].qyt"),
        ("post", "/api/v1/orders", {}, order_body(coupon="x"), "coupon"),
        ("post", f"/api/v1/stores/{FULIN}/stock", {},
         {"mode": "set", "items": [{"sku": "water-600ml", "qty": 1, "x": 0}]}, "items[0].x"),
        ("post", f"/api/v1/stores/{FULIN}/stock", {},
         {"mode": "set", "items": [{"sku": "water-600ml", "qty": 1}], "why": "x"}, "why"),
        ("post", "/api/v1/couriers", {}, courier_body("c1", phone="x"), "phone"),
        ("post", "/api/v1/couriers", {},
         courier_body("c1", home={"lat": 24.1, "lng": 120.6, "alt": 3}), "home.alt"),
        ("post", "/api/v1/couriers/c0/position", {}, {"lat": 24.1, "lng": 120.6, "acc": 5}, "acc"),
        ("post", "/api/v1/courier/events", courier,
         {"event_id": "e", "order_id": "o", "type": "delivered", "proof": {"pin": "1"}},
         "proof.pin"),
        ("post", "/api/v1/courier/pings", courier,
         {"pings": [{"lat": 24.1, "lng": 120.6, "at": FIXED_NOW.isoformat()}], "x": 1}, "x"),
        ("post", "/api/v1/orders/none/status", {}, {"status": "ready", "by": "me"}, "by"),
        ("put", "/api/v1/dispatch/pins/none", {}, {"courier_id": "c0", "force": True}, "force"),
        ("post", "/api/v1/admin/tokens", {}, {"role": "admin", "scope": "all"}, "scope"),
    ]  # fmt: skip
    for method, path, headers, body, field in cases:
        response = getattr(shop, method)(path, json=body, headers=headers)
        assert response.status_code == 400, (path, field, response.get_json())
        assert field in response.get_json()["error"]["details"]["fields"], response.get_json()
    assert redis_state(redis_client) == before


def test_a_fix_with_unknown_fields_is_refused_with_its_reason(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Pings are judged one by one: a fix with a field beyond lat, lng and at is refused."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    courier = bearer(token_for(redis_client, "courier", "c0"))
    fix = {"lat": 24.1, "lng": 120.6, "at": FIXED_NOW.isoformat(), "speed": 3}
    answer = shop.post("/api/v1/courier/pings", json={"pings": [fix]}, headers=courier)
    assert answer.get_json() == {
        "accepted": 0,
        "rejected": [{"index": 0, "reason": "unknown field(s): speed (a fix is {lat, lng, at})"}],
    }


@pytest.mark.parametrize("mode", ["set", "adjust"])
def test_a_stock_push_naming_a_sku_twice_changes_nothing(
    shop: FlaskClient, redis_client: redis.Redis, mode: str
) -> None:
    """Two lines for one sku: which level was meant? A 400 naming the second, nothing changed
    (a set kept the last)."""
    before = stored_orders.stock_levels(redis_client, keyspace(FULIN))
    items = [{"sku": "water-600ml", "qty": 3}, {"sku": "water-600ml", "qty": 9}]
    response = shop.post(f"/api/v1/stores/{FULIN}/stock", json={"mode": mode, "items": items})
    assert response.status_code == 400
    assert list(response.get_json()["error"]["details"]["fields"]) == ["items[1].sku"]
    assert stored_orders.stock_levels(redis_client, keyspace(FULIN)) == before


@pytest.mark.parametrize("text", ["a\x00b", "a\x1bb", "a\x7fb", "\x85"])
def test_control_characters_are_not_stored(
    shop: FlaskClient, redis_client: redis.Redis, text: str
) -> None:
    """NUL and other control characters in an address or a note are refused by name; tabs and
    line breaks are text."""
    for field in ("address", "note"):
        response = shop.post("/api/v1/orders", json=order_body(**{field: text}))
        assert response.status_code == 400
        assert field in response.get_json()["error"]["details"]["fields"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
    fine = shop.post("/api/v1/orders", json=order_body(address="a\tb\r\nc"))
    assert (
        fine.status_code == 201 and fine.get_json()["order"]["customer"]["address"] == "a\tb\r\nc"
    )


@pytest.mark.parametrize("courier_id", ["../../x", "a/b", ".hidden", "a b", "x\n", "", "é"])
def test_courier_ids_are_safe_to_use_as_keys_and_paths(
    shop: FlaskClient, redis_client: redis.Redis, courier_id: str
) -> None:
    """Ids go into Redis keys, URL paths and logs: letters, digits and . _ : - only (not first
    a dot); anything else is a 400 naming id."""
    response = shop.post("/api/v1/couriers", json=courier_body(courier_id))
    assert response.status_code == 400
    assert "id" in response.get_json()["error"]["details"]["fields"]
    assert not redis_client.exists("couriers")
    assert shop.post("/api/v1/couriers", json=courier_body("tc-01.b_2:x")).status_code == 201


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


SUBJECTS = {"courier": "c0", "store": FULIN, "shopper": "s-1"}


def test_every_route_refuses_unknown_query_parameters(
    app: Flask, shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Walk the app's whole url_map: on every route and method an unknown query parameter is a
    400 unknown_parameter naming it (/products, /dispatch/plan, tracking ignored them), a NUL in
    a known one a 400 naming that; and the document lists exactly the parameters each takes."""
    document = shop.get("/api/openapi.json").get_json()["paths"]
    checked = 0
    for rule in app.url_map.iter_rules():
        with app.test_request_context():
            url = url_for(rule.endpoint, **dict.fromkeys(rule.arguments, "x"))
        view = app.view_functions[rule.endpoint]
        declared = query_params_of(view)
        roles = getattr(view, "allowed_roles", ("admin",))  # checked once the caller is known
        role = "admin" if "admin" in roles else roles[0]
        headers = bearer(token_for(redis_client, role, SUBJECTS.get(role)))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = shop.open(f"{url}?zz_unknown=1", method=method, headers=headers)
            assert response.status_code == 400, (method, rule.rule, response.status_code)
            error = response.get_json()["error"]
            assert error["code"] == "unknown_parameter" and error["details"]["unknown"] == [
                "zz_unknown"
            ], (rule.rule, error)
            for name in declared:
                response = shop.open(
                    url, method=method, query_string={name: "a\x00"}, headers=headers
                )
                assert response.status_code == 400, (rule.rule, name)
                assert name in response.get_json()["error"]["details"]["fields"]
            operation = document.get(_openapi_path(rule.rule), {}).get(method.lower())
            if operation is not None:
                documented = {p["name"] for p in operation.get("parameters", [])
                              if p["in"] == "query"}  # fmt: skip
                assert documented == declared, (rule.rule, documented, declared)
            checked += 1
    assert checked >= 39  # every route of the app today
    # without a token, a protected route answers its 401 first: nothing learnt of its parameters
    refused = shop.get("/api/v1/dispatch/plan?zz_unknown=1", headers={"Authorization": ""})
    assert refused.status_code == 401


# The hostile suite: hypothesis draws JSON (any Unicode with lone surrogates, huge and tiny
# numbers, NaN and Infinity spellings, odd nesting, wrong types), alone or spoiling one field of
# a valid body, for every write endpoint, and raw bytes for query strings and path ids. Every
# answer is a 2xx or a 4xx JSON error, and a refusal writes nothing.


class Raw(str):
    """JSON text written as is: number spellings a Python value cannot make."""


RAW_NUMBERS = [
    Raw(t)
    for t in (
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1E400",
        "1e-400",
        "1" + "0" * 400,
        "-0",
        "0e0",
        "1.7976931348623157e308",
        "4.9e-324",
        "-0.0e-0",
    )
]
NASTY = ["\ud800", "\udfff", "a\ud83db", "\x00", "\x1b[2J", "\u202e", "\ufeff", "\U0001f642",
         "../../x", "a/b", "<img src=x>", "x" * 600, "", " ", "NaN"]  # fmt: skip
LEAVES = st.one_of(
    st.none(), st.booleans(),
    st.integers(-(10**20), 10**20), st.sampled_from([10**400, -(10**400), 2**63, 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(exclude_categories=()), max_size=12), st.sampled_from(NASTY),
    st.sampled_from(RAW_NUMBERS),
)  # fmt: skip
KEYS = st.text(st.characters(exclude_categories=()), max_size=6) | st.sampled_from(
    ["sku", "qty", "lat", "items", "id", "__proto__", "\ud800"]
)
JUNK_VALUES = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def to_json(value: Any) -> str:
    """JSON text as a hostile client writes it: lone surrogates escaped, NaN spelt out."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def places(value: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every member's path within ``value``, containers included."""
    yield where
    members = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())  # fmt: skip
    for key, member in members:
        yield from places(member, (*where, key))


def put(value: Any, where: tuple[Any, ...], new: Any) -> Any:
    """``value`` with the member at ``where`` replaced by ``new`` (copied, not changed)."""
    if not where:
        return new
    head, rest = where[0], where[1:]
    if isinstance(value, dict):
        return value | {head: put(value[head], rest, new)}
    return [put(v, rest, new) if i == head else v for i, v in enumerate(value)]


@st.composite
def hostile_bodies(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """Junk alone, or a valid body with one member replaced, removed or one added."""
    how = draw(st.sampled_from(["junk", "replace", "replace", "add", "drop"]))
    if how == "junk":
        return draw(JUNK_VALUES)
    where = draw(st.sampled_from(list(places(valid))))
    if how == "replace":
        return put(valid, where, draw(JUNK_VALUES))
    if how == "add":
        inner = valid
        for key in where:
            inner = inner[key]
        if isinstance(inner, dict):
            return put(valid, where, inner | {draw(KEYS): draw(JUNK_VALUES)})
        return put(valid, where, [inner, draw(JUNK_VALUES)])
    if not where:
        return {}
    parent, key = where[:-1], where[-1]
    container = valid
    for step in parent:
        container = container[step]
    if isinstance(container, dict):
        return put(valid, parent, {k: v for k, v in container.items() if k != key})
    return put(valid, parent, [v for i, v in enumerate(container) if i != key])


def judged(response: Any, before: dict[bytes, Any], after: dict[bytes, Any], what: str) -> None:
    """A 2xx, or a 4xx JSON error naming what was wrong that wrote nothing."""
    assert response.status_code < 500, (what, response.status_code, response.data[:300])
    answer = response.get_json()
    assert answer is not None, (what, response.data[:300])
    if response.status_code >= 400:
        error = answer["error"]
        assert set(error) == {"code", "message", "details"}, (what, answer)
        assert isinstance(error["details"], dict) and error["message"], (what, answer)
        if error["code"] == "invalid_parameter":
            assert error["details"]["fields"], (what, answer)
        assert after == before, (what, "a refusal wrote something", answer)


def test_hostile_bodies_at_every_write_endpoint(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """Hypothesis-drawn bodies at every write endpoint: never a 5xx, a refusal is a 4xx JSON
    error that leaves Redis as it was."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    courier = bearer(token_for(redis_client, "courier", "c0"))

    @given(endpoint=st.sampled_from(VALID + BODYLESS), data=st.data())
    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def attack(endpoint: tuple[str, str, str, dict[str, Any]], data: st.DataObject) -> None:
        method, path, role, valid = endpoint
        body = data.draw(hostile_bodies(valid))
        before = redis_state(redis_client)
        response = getattr(shop, method)(
            path, data=to_json(body), content_type="application/json",
            headers=courier if role == "courier" else {},
        )  # fmt: skip
        judged(response, before, redis_state(redis_client), f"{method} {path} {to_json(body)}")

    attack()


READS = [
    "/api/v1/stores/nearby?lat=24.18&lng=120.61", "/api/v1/stores", f"/api/v1/stores/{FULIN}",
    f"/api/v1/stores/{FULIN}/orders", f"/api/v1/stores/{FULIN}/stats",
    f"/api/v1/stores/{FULIN}/stock", "/api/v1/products", "/api/v1/dispatch/plan",
    "/api/v1/dispatch/plan.geojson", "/api/v1/dispatch/overview", "/api/v1/couriers",
    "/api/v1/courier/legs?courier_id=c0", "/api/v1/admin/tokens", "/api/v1/orders/none",
    "/api/v1/track/none.abc",
]  # fmt: skip
PARAMS = ["lat", "lng", "radius_m", "limit", "kind", "brand", "partner", "open_now", "at",
          "sku", "after", "status", "from", "to", "courier_id", "x", "lat[]", ""]  # fmt: skip
BYTES = st.binary(max_size=12) | st.sampled_from(
    [b"\x00", b"\xed\xa0\x80", b"\xff", b"NaN", b"inf", b"-1e400", b"1" + b"0" * 400, b"%", b"&",
     b"9999-12-31T23:59:59-23:59", b"0001-01-01T00:00:00+23:59"]
)  # fmt: skip


def test_hostile_query_strings_and_path_ids(shop: FlaskClient, redis_client: redis.Redis) -> None:
    """Raw bytes (NUL, invalid UTF-8, NaN, 400 digits) as query values, names and path ids on
    every read endpoint, and as ids in write paths: never a 5xx, always JSON, nothing written."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201

    @given(
        read=st.sampled_from(READS),
        query=st.lists(st.tuples(st.sampled_from(PARAMS) | st.text(max_size=4), BYTES),
                       max_size=4),
        segment=BYTES,
        write=st.sampled_from(VALID),
    )  # fmt: skip
    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def attack(
        read: str, query: list[tuple[str, bytes]], segment: bytes,
        write: tuple[str, str, str, dict[str, Any]],
    ) -> None:  # fmt: skip
        extra = "&".join(f"{quote(k)}={quote_from_bytes(v, safe='')}" for k, v in query)
        url = f"{read}{'&' if '?' in read else '?'}{extra}"
        before = redis_state(redis_client)
        judged(shop.get(url), before, redis_state(redis_client), url)
        method, path, role, valid = write
        if "/none" in path or "/c0/" in path:  # an id in the path: make it hostile
            hostile = quote_from_bytes(segment, safe="") or "%20"
            spoilt = path.replace("/none", f"/{hostile}").replace("/c0/", f"/{hostile}/")
            if role != "courier":
                response = getattr(shop, method)(spoilt, json=valid)
                judged(response, before, redis_state(redis_client), spoilt)

    attack()


@pytest.mark.parametrize(
    "url", ["/api/v1/orders/%00%2F/status", "/api/v1/orders//status", "/api//v1/products"]
)
def test_a_doubled_slash_is_a_json_404_not_an_html_redirect(shop: FlaskClient, url: str) -> None:
    """An id holding "/" makes "//" in a path: Werkzeug answered with an HTML 308 to the path
    with one slash (found by the hostile suite); it is a JSON 404 like any unknown route."""
    response = shop.post(url, json={"status": "ready"}) if "status" in url else shop.get(url)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


OFF_THE_CALENDAR = [
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1999-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
]  # fmt: skip


@pytest.mark.parametrize("moment", OFF_THE_CALENDAR)
def test_moments_off_the_calendar_are_refused_by_name(
    shop: FlaskClient, redis_client: redis.Redis, moment: str
) -> None:
    """Year 1 or 9999 with an offset was a 500 (the time in Taipei, a day before, ran off the
    calendar); every moment the service takes is from 2000 to 2100, else named as refused."""
    for url, field in [
        (f"/api/v1/stores/nearby?lat=24.18&lng=120.61&open_now=true&at={quote(moment)}", "at"),
        (f"/api/v1/stores/{FULIN}/stats?to={quote(moment)}", "to"),
        (f"/api/v1/stores/{FULIN}/stats?from={quote(moment)}", "from"),
    ]:
        response = shop.get(url)
        assert response.status_code == 400, (url, response.status_code)
        assert field in response.get_json()["error"]["details"]["fields"]
    for field in ("shift_start", "shift_end"):
        response = shop.post("/api/v1/couriers", json=courier_body("c1", **{field: moment}))
        assert response.status_code == 400 and field in response.get_json()["error"]["details"][
            "fields"]  # fmt: skip
    assert not redis_client.exists("couriers")


def test_an_idempotency_key_with_control_characters_is_refused(
    shop: FlaskClient, redis_client: redis.Redis
) -> None:
    """The Idempotency-Key header becomes a Redis key: printable characters only, as bodies."""
    response = shop.post("/api/v1/orders", json=order_body(), headers={"Idempotency-Key": "k\x01"})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["error"]["details"]["fields"]
    assert redis_client.xlen(order_keys.ORDER_STREAM) == 0
