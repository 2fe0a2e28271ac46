"""The authoritative catalogue in Redis, whole versions switched atomically, and each process's
index of the current one.

Keys: ``catalogue:version`` names the current version; ``catalogue:v{N}:meta`` (hash) and
``catalogue:v{N}:chunk:{i}`` (zlib-compressed JSON records) hold version N. A version is written
completely before the pointer moves, so a reader never sees half a catalogue; the previous version
is kept for workers still reading it, older ones are deleted.

Every web worker (and the dispatcher worker) keeps a :class:`CatalogueCache`, rebuilt when the
version changes. A large catalogue's index is built once per version and machine, saved to a
folder that every process of the machine maps (:meth:`StoreIndex.load`), with the stores' JSON
pieces for the nearby answer (:mod:`geo.store_pieces`): one process reads the catalogue from Redis
and builds, under a file lock, while the others wait for it and then map the result, so a
restarted or added worker is ready in about a second and the stores' arrays sit once in memory.
The folder's name comes from a random token that the first builder records in Redis next to the
version, so two Redis servers (or a flushed one) never share a folder by accident.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dispatch.storage.client import Client, StorageError
from dispatch.storage.order_keys import get_many
from dispatch.storage.replies import decoded, text_hash
from geo.index import StoreIndex
from geo.store_pieces import MappedPieces, save_store_pieces
from geo.stores import Store

log = logging.getLogger(__name__)

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
    client: Client,
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


def current_version(client: Client) -> CatalogueVersion | None:
    """The current version's description, or None before the first import."""
    number = _current_version_number(client)
    if number is None:
        return None
    meta = text_hash(client.hgetall(_meta_key(number)))
    return CatalogueVersion(
        number, int(meta.get("count", 0)), meta.get("source", ""), meta.get("imported_at", "")
    )


def read_catalogue(client: Client, version: int) -> list[Store]:
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


def _current_version_number(client: Client) -> int | None:
    raw = client.get(VERSION_KEY)
    return None if raw is None else int(raw)


def _delete_versions_before(client: Client, keep_from: int) -> None:
    for key in client.scan_iter(match="catalogue:v*:meta", count=1000):
        version = int(key.decode().split(":")[1][1:])
        if version < keep_from:
            doomed = [key, *client.scan_iter(match=f"catalogue:v{version}:chunk:*", count=1000)]
            client.delete(*doomed)


DEFAULT_INDEX_DIR = Path(tempfile.gettempdir()) / "nearby-store-index"
_TOKEN_TTL_S = 30 * 24 * 3600  # outlives any version in use; gone with the data on a flush


class CatalogueCache:
    """Hands out the current :class:`StoreIndex`, checking Redis at most every ``poll_s``.

    Between checks a query costs no Redis round trip; a re-import is seen by every worker within
    ``poll_s`` seconds, without a restart. A large catalogue (``background_from`` stores or more)
    is rebuilt on a background thread while the previous index keeps answering, so no request
    waits for a million-store rebuild.
    """

    def __init__(
        self,
        client: Client,
        *,
        poll_s: float,
        resolution: int | None = None,
        background_from: int = 50_000,
        share_from: int = 50_000,
        index_dir: Path = DEFAULT_INDEX_DIR,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._share_from = share_from
        self._index_dir = index_dir
        self._folders: list[Path] = []  # the shared folders this cache has served, oldest first
        self._poll_s = poll_s
        self._resolution = resolution
        self._background_from = background_from
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._index = StoreIndex([], resolution=resolution or 8)
        # the index and, for a saved one, its stores' JSON pieces: swapped together
        self._served: tuple[StoreIndex, MappedPieces | None] = (self._index, None)
        self._version: int | None = None
        self._checked_at = -float("inf")
        self._builder: threading.Thread | None = None

    @property
    def version(self) -> int | None:
        return self._version

    def index(self) -> StoreIndex:
        return self.served()[0]

    def served(self) -> tuple[StoreIndex, MappedPieces | None]:
        """The current index and, when it was saved, its stores' JSON pieces (one pair: an
        index and pieces of two versions never go together)."""
        # Until the first catalogue is in, every call goes through refresh(), whose lock makes
        # a thread wait for another's first build instead of answering from the empty index.
        if self._version is None or self._monotonic() - self._checked_at >= self._poll_s:
            self.refresh()
        return self._served

    def refresh(self) -> None:
        """Start rebuilding if Redis holds a newer version than this worker serves."""
        with self._lock:
            self._checked_at = self._monotonic()
            if self._builder is not None and self._builder.is_alive():
                return
            try:
                latest = current_version(self._client)
            except StorageError:
                if self._version is None:
                    raise  # nothing to serve from: the caller answers 503
                log.warning("Redis unreachable; serving catalogue v%s from memory", self._version)
                return
            if latest is None or latest.version == self._version:
                return
            if self._version is None or latest.count < self._background_from:
                self._build(latest)
                return
            self._builder = threading.Thread(
                target=self._build, args=(latest,), name="catalogue-rebuild", daemon=True
            )
            self._builder.start()

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        """Block until a background rebuild (if any) has finished."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def _build(self, latest: CatalogueVersion) -> None:
        for _ in range(3):  # a version can vanish mid-read when two imports land in a row
            try:
                if latest.count >= self._share_from:
                    index, pieces = self._shared_index(latest.version)
                else:
                    index, pieces = self._built_index(latest.version), None
            except CatalogueVanishedError:
                latest = current_version(self._client) or latest
                continue
            self._index, self._version = index, latest.version
            self._served = (index, pieces)  # one swap: readers see either
            # The index lives until the next version: out of the collector's sight, a full
            # collection no longer walks its objects (150-400 ms pauses at 1M stores, each one
            # the p99 of every request in flight). Refcounting still frees it when replaced.
            gc.freeze()
            log.info("catalogue v%s indexed: %s stores", latest.version, len(index))
            return
        log.warning("catalogue kept changing while being read; keeping v%s", self._version)

    def _built_index(self, version: int) -> StoreIndex:
        return StoreIndex(read_catalogue(self._client, version), resolution=self._resolution)

    def _shared_index(self, version: int) -> tuple[StoreIndex, MappedPieces | None]:
        """Map this machine's saved index of ``version``, building and saving it first if no
        worker has; in memory only if the folder cannot be written."""
        name = _folder_token(self._client, version, self._resolution)
        folder = self._index_dir / f"v{version}-{name}"
        try:
            self._index_dir.mkdir(parents=True, exist_ok=True)
            with _locked(folder.with_suffix(".lock")):
                if not (folder / "meta.json").exists():
                    index = self._built_index(version)
                    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
                    shutil.rmtree(partial, ignore_errors=True)
                    index.save(partial)
                    save_store_pieces(index, partial)
                    partial.rename(folder)  # whole or not at all, for the next worker
                    del index  # the mapped copy below is the one to keep
            loaded = StoreIndex.load(folder), MappedPieces.load(folder)
        except OSError as error:
            log.warning("index folder %s unusable (%s); indexing in memory", folder, error)
            return self._built_index(version), None
        self._forget_folders(keep=folder)
        return loaded

    def _forget_folders(self, *, keep: Path) -> None:
        """Delete the folder of the version before the one before (a worker still mapping an
        older one keeps its mapping: the files only go once every map is closed)."""
        if keep not in self._folders:
            self._folders.append(keep)
        while len(self._folders) > 2:
            old = self._folders.pop(0)
            shutil.rmtree(old, ignore_errors=True)
            with contextlib.suppress(OSError):
                old.with_suffix(".lock").unlink()


def _folder_token(client: Client, version: int, resolution: int | None) -> str:
    """The name of this Redis's saved index of ``version``: made by the first to ask."""
    key = f"catalogue-index:v{version}:{resolution}"
    client.set(key, uuid.uuid4().hex, nx=True, ex=_TOKEN_TTL_S)
    raw: Any = client.get(key)
    return decoded(raw)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, released even if the holder dies."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
