"""The nearby, one-store and listing endpoints over the demo catalogue in a real Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from geo.distance import haversine_m
from geo.stores import Store

FULIN_7_ELEVEN = ("osm-way-617553270", 24.1851803, 120.6126189)


def nearby(client: FlaskClient, **params: Any) -> Any:
    response = client.get("/api/v1/stores/nearby", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_known_seven_eleven_comes_first(client: FlaskClient) -> None:
    """Standing a few metres from the 7-Eleven on Fulin Road, it is the first answer."""
    store_id, lat, lng = FULIN_7_ELEVEN
    body = nearby(client, lat=lat + 0.00003, lng=lng + 0.00003)
    assert body["stores"][0]["id"] == store_id
    assert body["stores"][0]["brand"] == "7-Eleven"
    assert body["stores"][0]["distance_m"] < 5
    assert body["count"] == len(body["stores"]) <= 20
    assert "OpenStreetMap" in body["meta"]["attribution"]


def test_order_and_radius_match_brute_force(client: FlaskClient, demo_stores: list[Store]) -> None:
    """Every store within 1500 m, nearest first, ties by id, and no store beyond it."""
    lat, lng = 24.1835, 120.6010
    body = nearby(client, lat=lat, lng=lng, radius_m=1500, limit=200)
    expected = sorted(
        (haversine_m(lat, lng, s.lat, s.lng), s.id)
        for s in demo_stores
        if haversine_m(lat, lng, s.lat, s.lng) <= 1500
    )
    assert [s["id"] for s in body["stores"]] == [store_id for _, store_id in expected]
    assert len(expected) > 5


def test_filters(client: FlaskClient) -> None:
    """kind, brand (any case), partner and limit narrow the answer."""
    lat, lng = 24.1835, 120.6010
    supermarkets = nearby(client, lat=lat, lng=lng, kind="supermarket", radius_m=5000)
    assert supermarkets["count"] > 0
    assert {s["kind"] for s in supermarkets["stores"]} == {"supermarket"}
    familymart = nearby(client, lat=lat, lng=lng, brand="familymart,hi-life", radius_m=5000)
    assert {s["brand"] for s in familymart["stores"]} == {"FamilyMart", "Hi-Life"}
    others = nearby(client, lat=lat, lng=lng, partner="false", radius_m=5000)
    assert others["count"] > 0 and not any(s["partner"] for s in others["stores"])
    assert nearby(client, lat=lat, lng=lng, limit=3)["count"] == 3


def test_open_now_uses_the_store_time_zone(client: FlaskClient) -> None:
    """At 03:00 in Taipei supermarkets are closed and 24/7 stores open; at noon both open."""
    lat, lng = 24.1835, 120.6010
    night = nearby(client, lat=lat, lng=lng, open_now="true", radius_m=5000, limit=200)
    assert night["count"] > 0
    assert all(s["open_now"] for s in night["stores"])
    assert "supermarket" not in {s["kind"] for s in night["stores"]}
    everything = nearby(client, lat=lat, lng=lng, radius_m=5000, limit=200)
    assert any(s["open_now"] is False for s in everything["stores"])
    noon = nearby(
        client, lat=lat, lng=lng, open_now="true", at="2026-11-18T12:00:00+08:00", radius_m=5000
    )
    assert "supermarket" in {s["kind"] for s in noon["stores"]}


def test_nothing_nearby_is_an_empty_list(client: FlaskClient) -> None:
    """Far from every store the answer is empty, not an error."""
    body = nearby(client, lat=-45.0, lng=-120.0, radius_m=50_000)
    assert body == {"stores": [], "count": 0, "meta": body["meta"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lng": "120.6"}, "lat"),
        ({"lat": "24.1"}, "lng"),
        ({"lat": "abc", "lng": "120.6"}, "lat"),
        ({"lat": "nan", "lng": "120.6"}, "lat"),
        ({"lat": "24.1", "lng": "inf"}, "lng"),
        ({"lat": "-infinity", "lng": "120.6"}, "lat"),
        ({"lat": "91", "lng": "120.6"}, "lat"),
        ({"lat": "-90.0001", "lng": "120.6"}, "lat"),
        ({"lat": "24.1", "lng": "180.5"}, "lng"),
        ({"lat": "24.1", "lng": "-181"}, "lng"),
        ({"lat": "24.1", "lng": "120.6", "radius_m": "-1"}, "radius_m"),
        ({"lat": "24.1", "lng": "120.6", "radius_m": "50001"}, "radius_m"),
        ({"lat": "24.1", "lng": "120.6", "radius_m": "1e400"}, "radius_m"),
        ({"lat": "24.1", "lng": "120.6", "limit": "0"}, "limit"),
        ({"lat": "24.1", "lng": "120.6", "limit": "201"}, "limit"),
        ({"lat": "24.1", "lng": "120.6", "limit": "2.5"}, "limit"),
        ({"lat": "2_4.1", "lng": "120.6"}, "lat"),  # float() and int() read these; no client
        ({"lat": "24.1", "lng": "١٢٠"}, "lng"),  # means them as numbers
        ({"lat": "24.1", "lng": "120.6", "limit": "1_0"}, "limit"),
        ({"lat": "24.1", "lng": "120.6", "limit": "٣"}, "limit"),
        ({"lat": "24.1", "lng": "120.6", "kind": "bakery"}, "kind"),
        ({"lat": "24.1", "lng": "120.6", "brand": "Lawson"}, "brand"),
        ({"lat": "24.1", "lng": "120.6", "partner": "maybe"}, "partner"),
        ({"lat": "24.1", "lng": "120.6", "open_now": "sometimes"}, "open_now"),
        ({"lat": "24.1", "lng": "120.6", "at": "yesterday"}, "at"),
        ({"lat": ["24.1", "25"], "lng": "120.6"}, "lat"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: FlaskClient, params: dict[str, Any], field: str
) -> None:
    """Each bad parameter gives a 400 JSON error whose details name it."""
    response = client.get("/api/v1/stores/nearby", query_string=params)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_parameter"
    assert field in error["details"]["fields"]
    assert field in error["message"]


@pytest.mark.parametrize("name", ["brand", "kind", "sku"])
def test_an_unknown_value_is_echoed_cut_short(client: FlaskClient, name: str) -> None:
    """An unknown value is named back cut to 40 characters, not the whole query again."""
    query = {"lat": "24.1", "lng": "120.6", name: "x" * 5000}
    response = client.get("/api/v1/stores/nearby", query_string=query)
    assert response.status_code == 400
    reason = response.get_json()["error"]["details"]["fields"][name]
    assert "x" * 40 in reason and "x" * 41 not in reason


def test_a_zone_whose_plus_became_a_space_is_explained(client: FlaskClient) -> None:
    """'+08:00' unescaped in a URL arrives as ' 08:00': the 400 says to write %2B."""
    response = client.get("/api/v1/stores/nearby?lat=24.1&lng=120.6&at=2026-12-03T10:00:00+08:00")
    assert response.status_code == 400
    assert "%2B" in response.get_json()["error"]["details"]["fields"]["at"]
    fine = client.get("/api/v1/stores/nearby?lat=24.1&lng=120.6&at=2026-12-03T10:00:00%2B08:00")
    assert fine.status_code == 200


def test_unknown_parameter_is_named(client: FlaskClient) -> None:
    """A misspelt parameter is not silently ignored."""
    response = client.get("/api/v1/stores/nearby?lat=24.1&lng=120.6&radius=500")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["unknown"] == ["radius"]


def test_one_store_and_404(client: FlaskClient) -> None:
    """A known id returns the store; an unknown id is a JSON 404."""
    store_id = FULIN_7_ELEVEN[0]
    response = client.get(f"/api/v1/stores/{store_id}")
    assert response.status_code == 200
    assert response.get_json()["store"]["id"] == store_id
    missing = client.get("/api/v1/stores/no-such-store")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "store_not_found"


def test_listing_pages_through_every_store_once(
    client: FlaskClient, demo_stores: list[Store]
) -> None:
    """Following next_after visits each store exactly once, in id order."""
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 10} | ({"after": after} if after else {})
        body = client.get("/api/v1/stores", query_string=params).get_json()
        seen += [s["id"] for s in body["stores"]]
        after = body["next_after"]
        if after is None:
            break
    assert seen == sorted(s.id for s in demo_stores)
    assert client.get("/api/v1/stores?limit=501").status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/nowhere", 404),
        ("post", "/api/v1/stores/nearby", 405),
        ("delete", "/api/v1/stores/osm-way-617553270", 405),
    ],
)
def test_routing_errors_are_json(client: FlaskClient, method: str, path: str, status: int) -> None:
    """Unknown routes and wrong methods get JSON errors too."""
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_health(client: FlaskClient) -> None:
    """Readiness reports Redis reachable and the catalogue version and size; health the same
    version, from memory."""
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready" and body["checks"]["catalogue"]["stores"] == 46
    version = body["checks"]["catalogue"]["version"]
    assert version >= 1
    assert client.get("/healthz").get_json() == {"status": "ok", "catalogue_version": version}


def test_nearby_text_is_what_jsonify_writes(client: FlaskClient) -> None:
    """The hand-written body is byte for byte the compact, key-sorted JSON jsonify makes, and
    each store in it is store_json's dict plus its distance."""
    import json
    from datetime import datetime

    from web.stores import store_json

    index = client.application.extensions["catalogue"].index()
    for params in ({"lat": 24.1835, "lng": 120.6010, "limit": 50}, {"lat": 0.0, "lng": 0.0}):
        response = client.get("/api/v1/stores/nearby", query_string=params)
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        body = response.get_json()
        expected = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
        assert response.data.decode() == expected + "\n"
        moment = datetime.fromisoformat(body["meta"]["at"])
        for hit in body["stores"]:
            plain = {k: v for k, v in hit.items() if k != "distance_m"}
            assert plain == store_json(index.get(hit["id"]), moment=moment)
    assert body["count"] == 0 and body["stores"] == []
    assert len(json.loads(client.get("/api/v1/stores/nearby?lat=24.1835&lng=120.6010").data)) == 3


def test_a_full_json_cache_drops_its_older_half(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for a few stores' JSON, answers stay what they were and the cache stays small."""
    at = "2026-11-18T10:00:00+08:00"
    points = [(24.1835, 120.6010), (24.18518, 120.61262), (24.15, 120.65)]
    before = [nearby(client, lat=a, lng=b, limit=10, at=at)["stores"] for a, b in points]
    monkeypatch.setattr("web.stores._FRAGMENT_CACHE_LIMIT", 6)
    client.application.extensions.pop("store_json_pieces", None)
    after = [nearby(client, lat=a, lng=b, limit=10, at=at)["stores"] for a, b in points]
    assert after == before and any(len(stores) > 6 for stores in after)
    assert len(client.application.extensions["store_json_pieces"][1]) <= 6


def test_nearby_from_a_saved_index_writes_the_same_text(
    client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker mapping a saved index (and its stores' JSON pieces) answers byte for byte what
    a worker holding the index in memory answers."""
    from dispatch.storage.catalogue import CatalogueCache

    url = "/api/v1/stores/nearby?lat=24.1835&lng=120.6010&limit=50&at=2026-11-18T21:30:00%2B08:00"
    in_memory = client.get(url).data
    assert client.get(url).get_json()["count"] > 3
    app = client.application
    shared = CatalogueCache(app.extensions["redis"], poll_s=60.0, share_from=1, index_dir=tmp_path)
    assert shared.served()[1] is not None
    monkeypatch.setitem(app.extensions, "catalogue", shared)
    app.extensions.pop("store_json_pieces", None)
    assert client.get(url).data == in_memory
    assert client.get(url).data == in_memory  # from the worker's cache this time
