"""The authoritative catalogue in Redis: whole versions, switched atomically.

Keys: ``catalogue:version`` names the current version; ``catalogue:v{N}:meta`` (hash) and
``catalogue:v{N}:chunk:{i}`` (zlib-compressed JSON records) hold version N. A version is written
completely before the pointer moves, so a reader never sees half a catalogue; the previous version
is kept for workers still reading it, older ones are deleted.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from dispatch.storage.order_keys import get_many
from dispatch.storage.replies import text_hash
from geo.stores import Store

VERSION_KEY = "catalogue:version"
SEQUENCE_KEY = "catalogue:sequence"
CHUNK_SIZE = 5_000

Progress = Callable[[int], None]

# Two imports may overlap: the pointer only ever moves forward, to the later version.
_ADVANCE_VERSION = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""


@dataclass(frozen=True, slots=True)
class CatalogueVersion:
    version: int
    count: int
    source: str
    imported_at: str


class CatalogueVanishedError(Exception):
    """A version was deleted while being read (a newer import landed): read the current one."""


def _meta_key(version: int) -> str:
    return f"catalogue:v{version}:meta"


def _chunk_key(version: int, index: int) -> str:
    return f"catalogue:v{version}:chunk:{index}"


def save_catalogue(
    client: redis.Redis,
    stores: Sequence[Store],
    *,
    source: str,
    progress: Progress | None = None,
) -> CatalogueVersion:
    """Write ``stores`` as a new version, then make it current in one step."""
    version = int(client.incr(SEQUENCE_KEY))
    chunks = (len(stores) + CHUNK_SIZE - 1) // CHUNK_SIZE
    pipe = client.pipeline(transaction=False)
    for index in range(chunks):
        batch = stores[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
        payload = json.dumps([s.to_record() for s in batch], ensure_ascii=False)
        pipe.set(_chunk_key(version, index), zlib.compress(payload.encode(), 6))
        if progress is not None:
            progress(len(batch))
    imported_at = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "count": str(len(stores)),
        "chunks": str(chunks),
        "source": source,
        "imported_at": imported_at,
    }
    pipe.hset(_meta_key(version), mapping=meta)  # type: ignore[arg-type]  # invariant Mapping key
    pipe.execute()
    previous = _current_version_number(client)
    client.eval(_ADVANCE_VERSION, 1, VERSION_KEY, version)
    if previous is not None:
        _delete_versions_before(client, previous)
    return CatalogueVersion(version, len(stores), source, imported_at)


def current_version(client: redis.Redis) -> CatalogueVersion | None:
    """The current version's description, or None before the first import."""
    number = _current_version_number(client)
    if number is None:
        return None
    meta = text_hash(client.hgetall(_meta_key(number)))
    return CatalogueVersion(
        number, int(meta.get("count", 0)), meta.get("source", ""), meta.get("imported_at", "")
    )


def read_catalogue(client: redis.Redis, version: int) -> list[Store]:
    """Read every store of ``version``; raise :class:`CatalogueVanishedError` if it was deleted."""
    meta = text_hash(client.hgetall(_meta_key(version)))
    if not meta:
        raise CatalogueVanishedError(version)
    chunks = int(meta["chunks"])
    payloads = get_many(client, [_chunk_key(version, i) for i in range(chunks)])
    stores: list[Store] = []
    for payload in payloads:
        if payload is None:
            raise CatalogueVanishedError(version)
        records: list[dict[str, Any]] = json.loads(zlib.decompress(payload))  # type: ignore[arg-type]
        stores.extend(Store.from_record(record) for record in records)
    return stores


def _current_version_number(client: redis.Redis) -> int | None:
    raw = client.get(VERSION_KEY)
    return None if raw is None else int(raw)


def _delete_versions_before(client: redis.Redis, keep_from: int) -> None:
    for key in client.scan_iter(match="catalogue:v*:meta", count=1000):
        version = int(key.decode().split(":")[1][1:])
        if version < keep_from:
            doomed = [key, *client.scan_iter(match=f"catalogue:v{version}:chunk:*", count=1000)]
            client.delete(*doomed)
