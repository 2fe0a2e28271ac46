"""A large catalogue's index is built once per machine and version, and mapped by every worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from dispatch.storage import catalogue
from dispatch.storage.catalogue import CatalogueCache, save_catalogue
from geo.index import NearbyQuery
from geo.stores import Store


def shared_cache(client: redis.Redis, folder: Path) -> CatalogueCache:
    return CatalogueCache(client, poll_s=60.0, share_from=10, index_dir=folder)


def test_the_next_worker_maps_the_saved_index(
    redis_client: redis.Redis,
    demo_stores: list[Store],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first worker builds and saves; the next maps that folder without reading Redis."""
    save_catalogue(redis_client, demo_stores, source="demo")
    first = shared_cache(redis_client, tmp_path).index()
    assert len(first) == len(demo_stores)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "meta.json").exists()

    def no_reading(*_: Any, **__: Any) -> Any:
        raise AssertionError("read the catalogue again")

    monkeypatch.setattr(catalogue, "read_catalogue", no_reading)
    second = shared_cache(redis_client, tmp_path).index()
    assert list(second) == list(first)
    store = demo_stores[3]
    query = NearbyQuery(store.lat, store.lng, 3000.0, 5)
    assert second.nearby(query) == first.nearby(query)
    assert second.nearby(query)[0].store == store


def test_a_flushed_redis_gets_a_new_folder(
    redis_client: redis.Redis, demo_stores: list[Store], tmp_path: Path
) -> None:
    """The same version number after a flush, other stores: a new folder with the new stores."""
    save_catalogue(redis_client, demo_stores, source="demo")
    assert len(shared_cache(redis_client, tmp_path).index()) == len(demo_stores)
    redis_client.flushall()
    save_catalogue(redis_client, demo_stores[:15], source="demo")
    again = shared_cache(redis_client, tmp_path).index()
    assert sorted(s.id for s in again) == sorted(s.id for s in demo_stores[:15])


def test_an_unwritable_folder_falls_back_to_memory(
    redis_client: redis.Redis, demo_stores: list[Store], tmp_path: Path
) -> None:
    """With nowhere to save, the worker still serves, from an index of its own."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    save_catalogue(redis_client, demo_stores, source="demo")
    assert len(shared_cache(redis_client, blocker / "index").index()) == len(demo_stores)


def test_old_folders_are_deleted(
    redis_client: redis.Redis, demo_stores: list[Store], tmp_path: Path
) -> None:
    """A worker keeps the folders of the current and the previous version only."""
    cache = CatalogueCache(redis_client, poll_s=0.0, share_from=10, index_dir=tmp_path)
    for size in (30, 25, 20, 15):
        save_catalogue(redis_client, demo_stores[:size], source="demo")
        assert len(cache.index()) == size
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_saved_json_pieces_are_the_stores_own(
    redis_client: redis.Redis, demo_stores: list[Store], tmp_path: Path
) -> None:
    """The pieces a saved index carries are, position by position, those made from its stores;
    an index kept in memory has none."""
    from geo.store_pieces import store_pieces

    save_catalogue(redis_client, demo_stores, source="demo")
    index, mapped = shared_cache(redis_client, tmp_path).served()
    assert mapped is not None
    for position in range(len(index)):
        assert mapped[position] == store_pieces(index.store_at(position))
    in_memory = CatalogueCache(redis_client, poll_s=60.0, share_from=10_000, index_dir=tmp_path)
    assert in_memory.served()[1] is None and len(in_memory.served()[0]) == len(demo_stores)
