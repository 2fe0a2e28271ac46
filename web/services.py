"""What request handlers reach through the app: the catalogue index, Redis, the clock and the
figures counted for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from flask import current_app

from dispatch.order_store import StoreKeyspace
from dispatch.storage.catalogue import CatalogueCache
from dispatch.storage.client import Client
from geo.index import StoreIndex
from geo.stores import Store
from web.metrics import WebMetrics

ATTRIBUTION = "Store and map data © OpenStreetMap contributors, ODbL 1.0"


def redis_client() -> Client:
    return cast(Client, current_app.extensions["redis"])


def web_metrics() -> WebMetrics:
    return cast(WebMetrics, current_app.extensions["metrics"])


def catalogue_cache() -> CatalogueCache:
    return cast(CatalogueCache, current_app.extensions["catalogue"])


def catalogue_index() -> StoreIndex:
    return catalogue_cache().index()


def store_keyspace(store: Store) -> StoreKeyspace:
    """Where the store's stock and orders live in Redis: its region at the configured resolution."""
    return StoreKeyspace.of(store, current_app.config["SETTINGS"].region_resolution)


def now() -> datetime:
    clock = cast(Callable[[], datetime], current_app.extensions["clock"])
    return clock()


def catalogue_meta(*, at: datetime) -> dict[str, Any]:
    return {
        "catalogue_version": catalogue_cache().version,
        "at": at.isoformat(),
        "attribution": ATTRIBUTION,
    }
