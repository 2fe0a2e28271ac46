"""The request-body models: each bad field named in the 400, the limits and the schema agree,
and every body a view reads has one model, whose schema is the document's for that route."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from dispatch.orders import OrderLine, OrderRequest
from dispatch.settings import PROJECT_ROOT
from tests.conftest import FIXED_NOW, bearer, token_for
from tests.web.conftest import courier_body
from tests.web.test_orders_api import order_body
from web import bodies
from web.bodies import (
    MAX_ID_LEN,
    MAX_PROBLEMS,
    BatchOrdersBody,
    Body,
    CancelBody,
    CollectBody,
    CourierBody,
    CourierEventBody,
    DeactivateBody,
    FixBody,
    OrderBody,
    PinBody,
    PingsBody,
    PositionBody,
    ReorderBody,
    RotationBody,
    ShiftBody,
    StatusChangeBody,
    StockBody,
    TokenBody,
    schema_of,
)
from web.errors import ApiError

SOON = (FIXED_NOW + timedelta(hours=3)).isoformat()
FULL_ORDER = order_body(
    note="ring twice", store_id="osm-way-617553270", fulfilment="delivery", campaign="qr-7",
    contact="0912 345 678", deliver_at=SOON,
)  # fmt: skip
# Every field of every body read by a view, each given in at least one example (checked below).
EXAMPLES: list[tuple[type[Body], dict[str, Any]]] = [
    (OrderBody, FULL_ORDER),
    (BatchOrdersBody, {"orders": [FULL_ORDER]}),
    (ReorderBody, {"deliver_at": SOON}),
    (StatusChangeBody, {"status": "ready", "note": "packed"}),
    (CancelBody, {"reason": "ordered twice"}),
    (CollectBody, {"code": "1234", "id_checked": True}),
    (StockBody, {"mode": "set", "items": [{"sku": "water-600ml", "qty": 3}]}),
    (
        CourierEventBody,
        {"event_id": "e-1", "order_id": "o-1", "type": "delivered",
         "proof": {"code": "1234", "photo_ref": "p-1"}, "reason": "", "id_checked": True},
    ),
    (PingsBody, {"pings": [{"lat": 24.18, "lng": 120.6, "at": FIXED_NOW.isoformat()}]}),
    (PositionBody, {"lat": 24.18, "lng": 120.6}),
    (CourierBody, courier_body("c9")),
    (DeactivateBody, {"reason": "moved away"}),
    (ShiftBody, {"start": SOON, "end": (FIXED_NOW + timedelta(hours=8)).isoformat()}),
    (PinBody, {"courier_id": "c0", "allow_late": True}),
    (TokenBody, {"role": "shopper", "subject": "s-1", "label": "me", "ttl_s": 600}),
    (TokenBody, {"role": "dispatcher", "expires_at": SOON}),
    (RotationBody, {"grace_s": 60, "ttl_s": 600}),
    (RotationBody, {"expires_at": SOON}),
]  # fmt: skip
OPAQUE = {"orders", "pings"}  # read one by one in their place, not by the envelope's model


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """Every member of ``value`` (containers too): its API path, its location, its value."""

    def step(name: str | int) -> str:
        return f"{path}[{name}]" if isinstance(name, int) else (f"{path}.{name}" if path else name)

    members = value.items() if isinstance(value, dict) else enumerate(value)
    for key, member in members:
        where = step(key)
        yield where, (key,), member
        if isinstance(member, dict | list) and where not in OPAQUE:
            for inner, loc, leaf in leaves(member, where):
                yield inner, (key, *loc), leaf


def put(value: Any, loc: tuple[Any, ...], new: Any) -> Any:
    if not loc:
        return new
    if isinstance(value, dict):
        return value | {loc[0]: put(value[loc[0]], loc[1:], new)}
    return [put(v, loc[1:], new) if i == loc[0] else v for i, v in enumerate(value)]


def wrong_type(value: Any) -> Any:
    """A JSON value of another type, as lax clients send them: "1" for 1, "true" for true."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 7
    if isinstance(value, list):
        return {"x": value}
    return [value]


def named(path: str) -> str:
    """The field a fault at ``path`` is named by: a courier's home is named as a whole."""
    return "home" if path.startswith("home.") else path


def refusal(model: type[Body], raw: dict[str, Any]) -> dict[str, str]:
    """The fields a 400 names for ``raw``, in the body the client gets."""
    with pytest.raises(ApiError) as refused:
        model.from_json(raw)
    error = refused.value
    assert (error.status, error.code) == (400, "invalid_parameter")
    assert set(error.details) == {"fields"} and error.message.startswith("invalid parameter")
    return dict(error.details["fields"])


CASES = [(model, example, path, loc, value) for model, example in EXAMPLES
         for path, loc, value in leaves(example)]  # fmt: skip


def test_the_examples_are_valid_and_give_every_field() -> None:
    """Each example is accepted, and together they give every field of every model (nested
    models too), so the cases below reach each one."""
    given_fields: dict[type[Any], set[str]] = {}

    def note(model: Any, value: Any) -> None:
        given_fields.setdefault(model, set()).update(value)
        for name, member in value.items():
            inner = bodies._model_of(model.model_fields[name].annotation)
            if inner is not None and name not in OPAQUE:
                for each in member if isinstance(member, list) else [member]:
                    note(inner, each)

    for model, example in EXAMPLES:
        model.from_json(example)
        assert document_validator(model).is_valid(example), model.__name__
        note(model, example)
    for model, names in given_fields.items():
        assert names == set(model.model_fields), model.__name__


@pytest.mark.parametrize(
    ("model", "example", "path", "loc", "value"), CASES,
    ids=[f"{c[0].__name__}:{c[2]}" for c in CASES],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_named(
    model: type[Body], example: dict[str, Any], path: str, loc: tuple[Any, ...], value: Any
) -> None:
    """Strict: a string for a number, "true" for true, a number for a string, an object for a
    list: a 400 naming that field (and only it)."""
    fields = refusal(model, put(example, loc, wrong_type(value)))
    assert list(fields) == [named(path)], fields


def _alternatives(schema: dict[str, Any], refers_to: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a value may meet (a $ref followed, each member of an anyOf but null)."""
    if "$ref" in schema:
        return _alternatives(refers_to[schema["$ref"].rsplit("/", 1)[1]], refers_to)
    if "anyOf" in schema:
        return [alt for member in schema["anyOf"] if member != {"type": "null"}
                for alt in _alternatives(member, refers_to)]  # fmt: skip
    return [schema]


def _schemas_at(model: type[Body], loc: tuple[Any, ...]) -> list[dict[str, Any]]:
    schema, refers_to = schema_of(model)
    kinds = [schema]
    for step in loc:
        (kind,) = [k for each in kinds for k in _alternatives(each, refers_to)
                   if ("items" if isinstance(step, int) else "properties") in k]  # fmt: skip
        kinds = [kind["items"] if isinstance(step, int) else kind["properties"][step]]
    return [alt for each in kinds for alt in _alternatives(each, refers_to)]


@cache
def document_validator(model: type[Body]) -> Any:
    """A JSON Schema validator of the body as the document states it (its refs resolved, its
    formats checked)."""
    schema, refers_to = schema_of(model)
    document = schema | {"components": {"schemas": refers_to}}
    return jsonschema_rs.validator_for(document, validate_formats=True)


def past_the_schema(schemas: list[dict[str, Any]], value: Any) -> Iterator[Any]:
    """Values past each bound the schema states, outside its enum, off its pattern."""
    for schema in schemas:
        if "maxLength" in schema:
            yield "x" * (schema["maxLength"] + 1)
        if schema.get("minLength", 0) >= 1:
            yield ""
        if "pattern" in schema:
            yield "../" + str(value)
        if "enum" in schema:
            yield "not-" + str(value)
        if "maximum" in schema:
            yield schema["maximum"] + 1
        if "minimum" in schema:
            yield schema["minimum"] - 1
        if "maxItems" in schema:
            yield [value[0]] * (schema["maxItems"] + 1)
        if schema.get("minItems", 0) >= 1:
            yield []
        if schema.get("format") == "date-time":
            yield "tomorrow morning"
            yield "2026-11-22T10:00:00"  # no zone: whose ten o'clock?


BOUNDS = [
    (model, example, path, loc, bad) for model, example, path, loc, value in CASES
    for bad in past_the_schema(_schemas_at(model, loc), value)
    if not document_validator(model).is_valid(put(example, loc, bad))  # another alternative's
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "example", "path", "loc", "bad"), BOUNDS,
    ids=[f"{b[0].__name__}:{b[2]}={str(b[4])[:12]}" for b in BOUNDS],
)  # fmt: skip
def test_what_the_schema_refuses_the_model_refuses_by_name(
    model: type[Body], example: dict[str, Any], path: str, loc: tuple[Any, ...], bad: Any
) -> None:
    """The document and the validation are one definition: each bound, enum and pattern the
    schema states (from the named limits) is a 400 naming that field."""
    fields = refusal(model, put(example, loc, bad))
    assert named(path) in fields, fields


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-22T10:00:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
    ],
)
def test_a_moment_without_a_zone_or_off_the_calendar_is_named(moment: str) -> None:
    """Every moment a body takes has a zone and lies from 2000 to 2100 (as in the queries)."""
    for model, example in EXAMPLES:
        for path, loc, value in leaves(example):
            if isinstance(value, str) and value == SOON:
                assert named(path) in refusal(model, put(example, loc, moment))


@pytest.mark.parametrize(("model", "example"), EXAMPLES, ids=[e[0].__name__ for e in EXAMPLES])
def test_an_unknown_field_is_named_wherever_it_is(
    model: type[Body], example: dict[str, Any]
) -> None:
    """A misspelt field at the top or in any object within is named by its path, with the
    fields expected there; a required field left out is named too."""
    for path, loc, value in [("", (), example), *leaves(example)]:
        if not isinstance(value, dict) or path in OPAQUE or path.startswith(tuple(OPAQUE)):
            continue
        fields = refusal(model, put(example, loc, value | {"qyt": 1}))
        where = f"{path}.qyt" if path else "qyt"
        assert list(fields) == [where] and fields[where].startswith("unknown field (expected: ")
    required = schema_of(model)[0].get("required", [])
    for name in required:
        assert name in refusal(model, {k: v for k, v in example.items() if k != name})


def test_many_faults_are_named_together_up_to_a_limit() -> None:
    """Every fault at once (a client fixes the body in one go), but never more than
    MAX_PROBLEMS: a huge bad body is not echoed back."""
    fields = refusal(OrderBody, {"lat": "x", "lng": "y", "items": [], "channel": 1})
    assert {"lat", "lng", "items", "channel", "external_id"} <= set(fields)
    many = refusal(OrderBody, FULL_ORDER | {f"x{i}": i for i in range(100)})
    assert len(many) == MAX_PROBLEMS


@given(
    lat=st.floats(-90, 90, allow_nan=False), lng=st.floats(-180, 180, allow_nan=False),
    qty=st.integers(1, 99), minutes=st.integers(60, 2000),
    offset=st.sampled_from(["+00:00", "+08:00", "-05:30"]),
)  # fmt: skip
def test_an_order_body_becomes_the_order_request_it_says(
    lat: float, lng: float, qty: int, minutes: int, offset: str
) -> None:
    """The validated body is the domain's request: the same values, deliver_at in UTC."""
    at = (FIXED_NOW + timedelta(minutes=minutes)).astimezone(datetime.strptime(offset, "%z").tzinfo)
    raw = FULL_ORDER | {"lat": lat, "lng": lng, "items": [{"sku": "tea", "qty": qty}],
                        "deliver_at": at.isoformat(), "external_id": "  X-1 "}  # fmt: skip
    request = OrderBody.from_json(raw).order_request()
    assert request == OrderRequest(
        "app", "X-1", lat, lng, FULL_ORDER["address"], (OrderLine("tea", qty),), "ring twice",
        store_id="osm-way-617553270", fulfilment="delivery", campaign="qr-7",
        contact="0912 345 678", deliver_at=at.astimezone(UTC),
    )  # fmt: skip
    assert request.deliver_at is not None and request.deliver_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("fix", "reason"),
    [
        ([1, 2], "must be an object {lat, lng, at}"),
        ({"lat": 1, "lng": 2, "at": FIXED_NOW.isoformat(), "speed": 3},
         "unknown field(s): speed (a fix is {lat, lng, at})"),
        ({"lat": "1", "lng": 2, "at": FIXED_NOW.isoformat()},
         "lat and lng must be numbers in WGS84 degrees"),
        ({"lat": 1, "lng": 181, "at": FIXED_NOW.isoformat()},
         "lat and lng must be numbers in WGS84 degrees"),
        ({"lat": 1, "lng": 2, "at": "now"}, f"at must be {bodies.MOMENT_RULE}"),
        ({"lat": 1, "lng": 2}, f"at must be {bodies.MOMENT_RULE}"),
    ],
)  # fmt: skip
def test_a_bad_fix_is_refused_in_its_place_with_its_reason(fix: Any, reason: str) -> None:
    """Pings are judged one by one (the upload is not refused for one bad fix)."""
    assert FixBody.judged(fix) == reason
    assert PingsBody.from_json({"pings": [fix]}).pings == [fix]


def _reads(view: Any) -> list[type[Body]]:
    """The body models a view reads (``Model.read(...)``/``Model.read_with_json(...)``)."""
    view = inspect.unwrap(view)  # the route's own function, under @allow and the like
    tree = ast.parse(textwrap.dedent(inspect.getsource(view)))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("read", "read_with_json")
                and isinstance(node.func.value, ast.Name)):  # fmt: skip
            model = view.__globals__.get(node.func.value.id)
            if isinstance(model, type) and issubclass(model, Body):
                found.append(model)
    return found


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_each_body_a_view_reads_has_one_model_and_the_document_shows_its_schema(
    app: Flask, client: FlaskClient
) -> None:
    """Walk every route: a view reads at most one body model, the document's requestBody for
    that route is that model's schema (its $defs under components/schemas), and a route that
    reads none documents none."""
    document = client.get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    read: set[type[Body]] = set()
    for rule in app.url_map.iter_rules():
        models = _reads(app.view_functions[rule.endpoint])
        assert len(models) <= 1, (rule.rule, models)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = document["paths"].get(_openapi_path(rule.rule), {}).get(method.lower())
            if operation is None:
                assert not models, rule.rule
                continue
            body = operation.get("requestBody")
            if not models:
                assert body is None, (rule.rule, method)
                continue
            model = models[0]
            read.add(model)
            ref = body["content"]["application/json"]["schema"]
            assert ref == {"$ref": f"#/components/schemas/{model.__name__}"}, rule.rule
            schema, refers_to = schema_of(model)
            assert schemas[model.__name__] == schema
            assert all(schemas[name] == shown for name, shown in refers_to.items())
    assert read == {model for model, _ in EXAMPLES}  # each model tested above is read


def test_no_view_reads_a_body_but_through_its_model() -> None:
    """json_object (the JSON text reader) is called from the models only, and no view reads
    request.json or get_json itself: every body has its model."""
    for path in sorted((PROJECT_ROOT / "web").glob("*.py")):
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else (
                node.id if isinstance(node, ast.Name) else None)  # fmt: skip
            if name in ("get_json", "json") and isinstance(node, ast.Attribute):
                assert not (isinstance(node.value, ast.Name) and node.value.id == "request"), path
            if name == "json_object" and path.name not in ("params.py", "bodies.py"):
                raise AssertionError(f"{path.name} reads a body without a model")


def test_the_limits_are_the_schema_s() -> None:
    """The named limits are what the document states: ids, texts, lines, fixes."""
    order, refers_to = schema_of(OrderBody)
    assert order["properties"]["external_id"]["maxLength"] == MAX_ID_LEN
    assert order["properties"]["note"]["maxLength"] == bodies.MAX_TEXT_LEN
    assert order["properties"]["items"]["maxItems"] == bodies.MAX_LINES
    assert refers_to["OrderLineBody"]["properties"]["qty"]["maximum"] == bodies.MAX_QTY
    pings = schema_of(PingsBody)[0]["properties"]["pings"]
    assert pings["maxItems"] == bodies.MAX_PINGS
    courier = schema_of(CourierBody)[0]["properties"]
    assert courier["id"]["maxLength"] == bodies.MAX_COURIER_ID_LEN
    assert courier["capacity"]["maximum"] == bodies.MAX_CAPACITY


FULIN = "osm-way-617553270"
ROUTES: list[tuple[str, str, str, type[Body]]] = [
    ("post", "/api/v1/orders", "admin", OrderBody),
    ("post", "/api/v1/orders/batch", "admin", BatchOrdersBody),
    ("post", "/api/v1/orders/none/reorder", "shopper", ReorderBody),
    ("post", "/api/v1/orders/none/status", "admin", StatusChangeBody),
    ("post", "/api/v1/orders/none/cancel", "admin", CancelBody),
    ("post", "/api/v1/orders/none/collect", "admin", CollectBody),
    ("post", f"/api/v1/stores/{FULIN}/stock", "admin", StockBody),
    ("post", "/api/v1/courier/events", "courier", CourierEventBody),
    ("post", "/api/v1/courier/pings", "courier", PingsBody),
    ("post", "/api/v1/couriers/c0/position", "admin", PositionBody),
    ("post", "/api/v1/couriers", "admin", CourierBody),
    ("post", "/api/v1/couriers/c0/deactivate", "admin", DeactivateBody),
    ("post", "/api/v1/couriers/c0/shifts", "admin", ShiftBody),
    ("put", "/api/v1/dispatch/pins/none", "admin", PinBody),
    ("post", "/api/v1/admin/tokens", "admin", TokenBody),
    ("post", "/api/v1/admin/tokens/tok_none/rotate", "admin", RotationBody),
]


def test_every_route_names_each_bad_field_in_its_400(shop: FlaskClient, redis_client: Any) -> None:
    """Through the HTTP API: at every route that reads a body, a value of the wrong type in
    each field is a 400 invalid_parameter naming it, in the service's error shape."""
    assert shop.post("/api/v1/couriers", json=courier_body("c0")).status_code == 201
    headers = {
        role: bearer(token_for(redis_client, role, subject))
        for role, subject in (("courier", "c0"), ("shopper", "s-1"), ("admin", None))
    }
    examples = dict(EXAMPLES)  # one example of each model
    assert {model for *_, model in ROUTES} == {model for model, _ in EXAMPLES}
    for method, path, role, model in ROUTES:
        example = examples[model]
        for name, value in example.items():
            body = example | {name: wrong_type(value)}
            answer = getattr(shop, method)(path, json=body, headers=headers[role])
            assert answer.status_code == 400, (path, name, answer.get_json())
            error = answer.get_json()["error"]
            assert set(error) == {"code", "message", "details"}
            assert error["code"] == "invalid_parameter" and name in error["details"]["fields"]
