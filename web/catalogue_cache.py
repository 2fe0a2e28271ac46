"""Each web worker's index, rebuilt when the catalogue version in Redis changes.

A large catalogue's index is built once per version and machine, saved to a folder that every
worker of the machine maps (:meth:`StoreIndex.load`), with the stores' JSON pieces for the
nearby answer (:mod:`web.store_pieces`): one worker reads the catalogue from Redis
and builds, under a file lock, while the others wait for it and then map the result, so a
restarted or added worker is ready in about a second and the stores' arrays sit once in memory.
The folder's name comes from a random token that the first builder records in Redis next to the
version, so two Redis servers (or a flushed one) never share a folder by accident.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from geo.index import StoreIndex
from web.catalogue_store import (
    CatalogueVanishedError,
    CatalogueVersion,
    current_version,
    read_catalogue,
)
from web.store_pieces import MappedPieces, save_store_pieces

log = logging.getLogger(__name__)

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
        client: redis.Redis,
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
            except redis.RedisError:
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
            log.info("catalogue v%s indexed: %s stores", latest.version, len(index))
            return
        log.warning("catalogue kept changing while being read; keeping v%s", self._version)

    def _built_index(self, version: int) -> StoreIndex:
        return StoreIndex(read_catalogue(self._client, version), resolution=self._resolution)

    def _shared_index(self, version: int) -> tuple[StoreIndex, MappedPieces | None]:
        """Map this machine's saved index of ``version``, building and saving it first if no
        worker has; in memory only if the folder cannot be written."""
        token = f"catalogue-index:v{version}:{self._resolution}"
        self._client.set(token, uuid.uuid4().hex, nx=True, ex=_TOKEN_TTL_S)
        name = self._client.get(token)
        text = name.decode() if isinstance(name, bytes) else str(name)
        folder = self._index_dir / f"v{version}-{text}"
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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, released even if the holder dies."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
