"""GET /api/v1/addresses: public, ranked positions with a normalised address; 400s name q."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.settings import Settings
from tests.conftest import bearer, make_app, token_for

SEARCH = "/api/v1/addresses"


def test_an_address_gives_its_position_and_normal_form(client: FlaskClient) -> None:
    """Full-width digits and spaces: the house on Fulian Street, where the store there is."""
    response = client.get(SEARCH, query_string={"q": "臺中市 福聯街 ２３ 號"})
    assert response.status_code == 200
    body = response.get_json()
    first = body["results"][0]
    assert first["match"] == "house" and first["address"] == "臺中市西屯區福聯街23號"
    assert first["address_en"] == "No. 23, Fulian Street, Taichung"
    assert abs(first["lat"] - 24.1853033) < 1e-6 and abs(first["lng"] - 120.6076223) < 1e-6
    assert body["count"] == len(body["results"]) <= 5
    assert "OpenStreetMap" in body["attribution"]


def test_public_and_shopper_tokens_alike(client: FlaskClient, redis_client: redis.Redis) -> None:
    """No token, or a shopper's: the same answer (a public route like the store search)."""
    params = {"q": "Fulian St 23", "near": "24.18,120.60", "limit": 2}
    anonymous = client.get(SEARCH, query_string=params, headers={"Authorization": ""})
    shopper = bearer(token_for(redis_client, "shopper", "s1"))
    assert anonymous.status_code == 200
    assert anonymous.get_json() == client.get(SEARCH, query_string=params,
                                              headers=shopper).get_json()  # fmt: skip
    hits = anonymous.get_json()["results"]
    assert len(hits) <= 2 and all("distance_m" in hit for hit in hits)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "，。!"}, "q"),
        ({"q": "福聯街", "limit": "0"}, "limit"),
        ({"q": "福聯街", "limit": "21"}, "limit"),
        ({"q": "福聯街", "near": "24.18"}, "near"),
        ({"q": "福聯街", "near": "95,120"}, "near"),
    ],
)
def test_bad_queries_are_400s_naming_the_field(
    client: FlaskClient, params: dict[str, str], field: str
) -> None:
    """Missing, too long, nothing searchable, limit out of range, near not lat,lng."""
    response = client.get(SEARCH, query_string=params)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]


def test_an_unknown_parameter_is_refused(client: FlaskClient) -> None:
    """A misspelt parameter is a 400, never ignored."""
    response = client.get(SEARCH, query_string={"q": "福聯街", "lat": "24.18"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_parameter"


def test_rate_limited_like_the_other_public_routes(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Past the per-minute limit an address search is a 429 with Retry-After."""
    strict = make_app(replace(settings, rate_limit_per_minute=2), redis_client).test_client()
    anonymous = {"Authorization": ""}
    codes = [strict.get(SEARCH, query_string={"q": "福聯街"}, headers=anonymous).status_code
             for _ in range(3)]  # fmt: skip
    assert codes == [200, 200, 429]


def test_without_address_data_it_answers_nothing(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """ADDRESS_DATA set empty: a 200 with no results, not an error."""
    bare = make_app(replace(settings, address_data=None), redis_client).test_client()
    body = bare.get(SEARCH, query_string={"q": "福聯街23號"}).get_json()
    assert body["count"] == 0 and body["results"] == []
