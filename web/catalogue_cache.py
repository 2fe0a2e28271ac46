"""Each web worker's in-memory index, rebuilt when the catalogue version in Redis changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

from geo.index import StoreIndex
from web.catalogue_store import CatalogueVanishedError, current_version, read_catalogue


class CatalogueCache:
    """Hands out the current :class:`StoreIndex`, checking Redis at most every ``poll_s``.

    Between checks a query costs no Redis round trip; a re-import is seen by every worker within
    ``poll_s`` seconds, without a restart.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        poll_s: float,
        resolution: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._poll_s = poll_s
        self._resolution = resolution
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._index = StoreIndex([], resolution=resolution or 8)
        self._version: int | None = None
        self._checked_at = -float("inf")

    @property
    def version(self) -> int | None:
        return self._version

    def index(self) -> StoreIndex:
        if self._monotonic() - self._checked_at >= self._poll_s:
            self.refresh()
        return self._index

    def refresh(self) -> None:
        """Rebuild the index if Redis holds a newer version than this worker."""
        with self._lock:
            for _ in range(3):  # a version can vanish mid-read if two imports land in a row
                latest = current_version(self._client)
                if latest is None or latest.version == self._version:
                    break
                try:
                    stores = read_catalogue(self._client, latest.version)
                except CatalogueVanishedError:
                    continue
                self._index = StoreIndex(stores, resolution=self._resolution)
                self._version = latest.version
                break
            self._checked_at = self._monotonic()
