"""Each web worker's in-memory index, rebuilt when the catalogue version in Redis changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from geo.index import StoreIndex
from web.catalogue_store import (
    CatalogueVanishedError,
    CatalogueVersion,
    current_version,
    read_catalogue,
)

log = logging.getLogger(__name__)


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._poll_s = poll_s
        self._resolution = resolution
        self._background_from = background_from
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._index = StoreIndex([], resolution=resolution or 8)
        self._version: int | None = None
        self._checked_at = -float("inf")
        self._builder: threading.Thread | None = None

    @property
    def version(self) -> int | None:
        return self._version

    def index(self) -> StoreIndex:
        # Until the first catalogue is in, every call goes through refresh(), whose lock makes
        # a thread wait for another's first build instead of answering from the empty index.
        if self._version is None or self._monotonic() - self._checked_at >= self._poll_s:
            self.refresh()
        return self._index

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
                stores = read_catalogue(self._client, latest.version)
            except CatalogueVanishedError:
                latest = current_version(self._client) or latest
                continue
            index = StoreIndex(stores, resolution=self._resolution)
            self._index, self._version = index, latest.version  # one swap: readers see either
            log.info("catalogue v%s indexed: %s stores", latest.version, len(index))
            return
        log.warning("catalogue kept changing while being read; keeping v%s", self._version)
