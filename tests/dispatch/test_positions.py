"""Couriers' positions: a fix survives its record, a courier never heard from is at its home."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.positions import Ping, ping_record, position_of
from tests.conftest import FIXED_NOW
from tests.dispatch.test_couriers import courier


@given(st.floats(-90, 90), st.floats(-180, 180), st.integers(0, 10**9))
def test_a_fix_survives_its_record(lat: float, lng: float, micros: int) -> None:
    ping = Ping(lat, lng, FIXED_NOW + timedelta(microseconds=micros))
    record = ping.to_record()
    assert list(record) == ["lat", "lng", "at"]
    assert Ping.from_record(json.loads(json.dumps(record))) == ping


def test_where_a_courier_is() -> None:
    """The last fix, else where its shift starts; no fix is a null position in the API."""
    profile = courier("c1")
    assert position_of(profile, {}) == (profile.home_lat, profile.home_lng)
    pings = {"c1": Ping(24.2, 120.7, FIXED_NOW), "c2": Ping(25.0, 121.5, FIXED_NOW)}
    assert position_of(profile, pings) == (24.2, 120.7)
    assert ping_record(None) is None
    assert ping_record(pings["c1"]) == {"lat": 24.2, "lng": 120.7, "at": FIXED_NOW.isoformat()}
