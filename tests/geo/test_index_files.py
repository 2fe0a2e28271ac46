"""A saved index, mapped back, is the same index: same answers, same lookups, same order."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo.index import NearbyQuery, StoreIndex
from tests.geo.test_index import CENTRES, answer, brute_force, make_stores


@pytest.mark.parametrize("count", [0, 1, 400])
def test_loaded_index_answers_as_built(tmp_path: Path, count: int) -> None:
    """Nearby, get, iteration and ids of the mapped index equal those of the built one."""
    stores = make_stores(CENTRES["taichung"], 0.01, count, 8)
    built = StoreIndex(stores)
    built.save(tmp_path / "index")
    loaded = StoreIndex.load(tmp_path / "index")
    assert len(loaded) == len(built) == count
    assert loaded.resolution == built.resolution
    assert loaded.brands == built.brands
    assert list(loaded.ids_sorted()) == list(built.ids_sorted())
    assert list(loaded) == list(built)
    for store in stores[:50]:
        again = loaded.get(store.id)
        assert again == store
        assert again is not None and again.hours == store.hours
    assert loaded.get("no such store") is None
    moment = datetime(2026, 11, 18, 22, 30, tzinfo=UTC)
    for radius in (100.0, 1000.0, 3000.0):
        for query in (
            NearbyQuery(24.18, 120.60, radius, 20),
            NearbyQuery(24.185, 120.61, radius, 5, partner=True, brands=frozenset({"hi-life"})),
            NearbyQuery(24.17, 120.59, radius, 10, open_at=moment),
        ):
            assert answer(loaded, query) == answer(built, query) == brute_force(stores, query)


def test_loaded_index_pages_ids(tmp_path: Path) -> None:
    """Slices and bisect over the mapped ids work as over a list."""
    stores = make_stores(CENTRES["helsinki"], 0.01, 120, 9)
    StoreIndex(stores).save(tmp_path / "index")
    ids = StoreIndex.load(tmp_path / "index").ids_sorted()
    expected = sorted(s.id for s in stores)
    assert ids[10:20] == expected[10:20]
    assert bisect.bisect_right(ids, expected[41]) == 42


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    """A folder written by another format version is not mapped as if it were this one."""
    StoreIndex([]).save(tmp_path / "index")
    (tmp_path / "index" / "meta.json").write_text('{"format": 0}')
    with pytest.raises(ValueError, match="format"):
        StoreIndex.load(tmp_path / "index")
