"""The demo catalogue builder: one store mapped twice in OSM is one store in the demo."""

from __future__ import annotations

import importlib.util
import itertools
import json
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.settings import PROJECT_ROOT
from geo.distance import haversine_m
from tests.conftest import DEMO_CATALOGUE


def _builder() -> ModuleType:
    path = PROJECT_ROOT / "scripts" / "make_demo_catalogue.py"
    spec = importlib.util.spec_from_file_location("make_demo_catalogue", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _builder()


def row(osm_id: int, lat: float, lng: float, **tags: str) -> dict[str, str]:
    """A stores.csv row as the shared extracts have them (empty where OSM says nothing)."""
    columns = ("osm_type", "shop", "name", "opening_hours", "addr:street", "addr:housenumber",
               "brand", "name:en", "brand:en")  # fmt: skip
    blank = dict.fromkeys(columns, "") | {"osm_type": "node", "shop": "convenience"}
    base = blank | {"id": str(osm_id), "lat": str(lat), "lon": str(lng)}
    return base | {"brand": "7-Eleven", "name": "7-Eleven"} | tags


def test_the_shipped_demo_lists_no_store_twice() -> None:
    """No two stores of one brand within 25 m, unless OSM tells them apart (branch, phone)."""
    features = json.loads(DEMO_CATALOGUE.read_text(encoding="utf-8"))["features"]
    ids = [f["properties"]["id"] for f in features]
    tags: dict[str, dict[str, str]] = {}
    for extract in sorted((PROJECT_ROOT / "data" / "osm").glob("*.osm.bz2")):
        tags |= builder.osm_tags(extract, ids)
    assert set(tags) == set(ids)  # every demo store comes from a shipped extract
    close = []
    for a, b in itertools.combinations(features, 2):
        (lng1, lat1), (lng2, lat2) = a["geometry"]["coordinates"], b["geometry"]["coordinates"]
        p, q = a["properties"], b["properties"]
        if p["brand"] == q["brand"] and haversine_m(lat1, lng1, lat2, lng2) <= 25.0:
            close.append((p["id"], q["id"]))
            assert builder.told_apart(tags[p["id"]], tags[q["id"]]), (p["id"], q["id"])
    assert close  # the two pairs of 7-Elevens at a hospital and on a campus stay two stores
    assert "osm-way-617553270" in ids and "osm-node-5933187017" not in ids


def test_a_store_mapped_twice_keeps_the_richer_record_filled_from_the_other() -> None:
    """A building and a point 3 m apart: the building's record, with the point's hours."""
    way = row(1, 24.1851803, 120.6126189, osm_type="way", name="7-Eleven 福林店",
              **{"addr:street": "福林路31巷", "addr:housenumber": "150"})  # fmt: skip
    node = row(2, 24.1851568, 120.6126075, opening_hours="24/7",
               **{"addr:street": "福林路31巷", "addr:housenumber": "150號"})  # fmt: skip
    other_brand = row(3, 24.1851568, 120.6126075, brand="FamilyMart", name="全家")
    far = row(4, 24.1855, 120.6126)  # 35 m north
    rows, merges = builder.merge_duplicates([node, way, other_brand, far], {})
    assert [r["id"] for r in rows] == ["1", "3", "4"]
    assert rows[0]["opening_hours"] == "24/7" and rows[0]["addr:housenumber"] == "150"
    assert [(kept, merged) for kept, merged, _ in merges] == [("osm-way-1", "osm-node-2")]


def test_stores_told_apart_by_osm_stay_apart() -> None:
    """Two branches (or two phone numbers) a few metres apart are two stores."""
    a, b = row(1, 24.1823232, 120.6078712), row(2, 24.1823521, 120.6077453)
    for tags in (
        {"branch": "路思義門市"}, {"branch": "校友會館門市"},
    ), ({"phone": "+886-4-23594486"}, {"phone": "+886-4-23592722"}):  # fmt: skip
        by_id = {"osm-node-1": tags[0], "osm-node-2": tags[1]}
        assert len(builder.merge_duplicates([a, b], by_id)[0]) == 2
    # the same phone written differently, one branch tagged: still one store
    same = {"osm-node-1": {"phone": "+886 4 24628940"},
            "osm-node-2": {"phone": "+886 4 2462 8940", "branch": "福林門市"}}  # fmt: skip
    assert len(builder.merge_duplicates([a, b], same)[0]) == 1


rows_near = st.lists(
    st.tuples(
        st.floats(0, 0.0006), st.floats(0, 0.0006),  # within about 65 m
        st.sampled_from(["7-Eleven", "FamilyMart"]),
        st.sampled_from(["", "A", "B"]), st.sampled_from(["", "1", "2"]),
        st.booleans(), st.booleans(),
    ),
    max_size=8,
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(rows_near)
def test_merging_leaves_no_duplicate_and_loses_no_record(draws: list[Any]) -> None:
    """Whatever the rows: afterwards no two are one store, and each input is kept or merged."""
    rows, tags = [], {}
    for i, (dlat, dlng, brand, branch, phone, way, hours) in enumerate(draws):
        kind, opening = ("way" if way else "node"), ("24/7" if hours else "")
        rows.append(row(i, 24.18 + dlat, 120.60 + dlng, brand=brand, name=brand,
                        osm_type=kind, opening_hours=opening))  # fmt: skip
        tags[builder.store_id(rows[-1])] = {"branch": branch, "phone": phone}
    kept, merges = builder.merge_duplicates(rows, tags)
    assert sorted([builder.store_id(r) for r in kept] + [m[1] for m in merges]) == sorted(tags)
    for a, b in itertools.combinations(kept, 2):
        metres = haversine_m(float(a["lat"]), float(a["lon"]), float(b["lat"]), float(b["lon"]))
        same_store = a["brand"] == b["brand"] and metres <= builder.MERGE_RADIUS_M
        assert not same_store or builder.told_apart(
            tags[builder.store_id(a)], tags[builder.store_id(b)]
        )
