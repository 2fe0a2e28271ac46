"""Matching ranks stores by ride time and names every reason a store cannot take the order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.matching import StoreSituation, rank_stores
from dispatch.orders import OrderLine, OrderRequest
from geo.stores import Store
from geo.travel import StraightLineTravel

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=UTC)  # Wednesday 12:00 in Taipei
TRAVEL = StraightLineTravel()
BASE = Store(id="s", name="S", brand="B", kind="convenience", partner=True, lat=24.18,
             lng=120.60, opening_hours="24/7", timezone="Asia/Taipei")  # fmt: skip


def store(store_id: str, metres_north: float, **changes: object) -> Store:
    return replace(BASE, id=store_id, lat=24.18 + metres_north / 111_195.0, **changes)  # type: ignore[arg-type]


REQUEST = OrderRequest(
    "app", "x1", 24.18, 120.60, "here", (OrderLine("milk", 2), OrderLine("tea", 1))
)
STOCKED = {"milk": 5, "tea": 5}


def rank(*situations: StoreSituation):  # type: ignore[no-untyped-def]
    return rank_stores(REQUEST, situations, now=NOW, travel=TRAVEL, vehicle="e-bike",
                       pickup_allowance_s=600)  # fmt: skip


def test_nearest_store_that_can_fulfil_wins() -> None:
    """The nearer store lacks milk: the next one is chosen and the reason recorded."""
    ranking = rank(
        StoreSituation(store("far", 900), STOCKED, 0),
        StoreSituation(store("near", 100), {"milk": 1, "tea": 5}, 0),
        StoreSituation(store("mid", 500), STOCKED, 0),
    )
    assert [c.store.id for c in ranking.feasible] == ["mid", "far"]
    (near,) = ranking.rejected
    assert near.store_id == "near"
    assert near.reasons == ("out_of_stock",) and near.missing_skus == ("milk",)


@pytest.mark.parametrize(
    ("situation", "reason"),
    [
        (StoreSituation(store("a", 100, partner=False), STOCKED, 0), "not_partner"),
        (StoreSituation(store("a", 100, opening_hours="Mo-Su 20:00-22:00"), STOCKED, 0), "closed"),
        (StoreSituation(store("a", 100, capacity_per_hour=3), STOCKED, 3), "over_capacity"),
        (
            StoreSituation(store("a", 6000, delivery_radius_m=5000), STOCKED, 0),
            "outside_delivery_radius",
        ),
        (StoreSituation(store("a", 100, prep_time_s=3300), STOCKED, 0), "too_far_for_promise"),
        (StoreSituation(store("a", 100), {}, 0), "out_of_stock"),
    ],
)
def test_each_reason(situation: StoreSituation, reason: str) -> None:
    """Every way a store can fail is named."""
    ranking = rank(situation)
    assert not ranking.feasible
    assert reason in ranking.rejected[0].reasons


def test_all_reasons_are_listed_together() -> None:
    """A store failing several ways lists them all."""
    bad = store("a", 100, opening_hours="Mo-Su 20:00-22:00", capacity_per_hour=1)
    (rejection,) = rank(StoreSituation(bad, {}, 1)).rejected
    assert set(rejection.reasons) == {"closed", "out_of_stock", "over_capacity"}


@given(
    st.lists(
        st.tuples(st.floats(0, 20_000), st.integers(0, 3), st.integers(0, 40), st.booleans()),
        min_size=1,
        max_size=15,
    )
)
def test_feasible_stores_really_can_fulfil(specs: list[tuple[float, int, int, bool]]) -> None:
    """Every store called feasible passes every check; every other store has a reason."""
    situations = [
        StoreSituation(store(f"s{i}", north, partner=partner), {"milk": milk, "tea": 1}, load)
        for i, (north, milk, load, partner) in enumerate(specs)
    ]
    ranking = rank(*situations)
    assert len(ranking.feasible) + len(ranking.rejected) == len(situations)
    rides = [c.ride_s for c in ranking.feasible]
    assert rides == sorted(rides)
    for candidate in ranking.feasible:
        situation = next(s for s in situations if s.store.id == candidate.store.id)
        assert situation.store.partner and situation.stock["milk"] >= 2
        assert situation.orders_last_hour < situation.store.capacity_per_hour
        assert candidate.ride_s + situation.store.prep_time_s + 600 <= 3600
    assert all(r.reasons for r in ranking.rejected)
