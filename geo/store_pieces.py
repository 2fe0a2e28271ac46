"""Each store's JSON in the nearby answer, made once: the text around its two per-request fields.

A store's object in the answer is the compact, key-sorted ASCII JSON that jsonify writes for
the web's ``store_json`` plus ``distance_m``; only ``distance_m`` and ``open_now`` change from
one request to the next, and they sort between the other fields, so the rest is three pieces of
text kept per store. For a large catalogue they are written once beside the saved index (one file
for all the workers of a machine, mapped like the index), so a worker meeting a store for the
first time slices its pieces out of the file instead of decoding the store and encoding its JSON.
Pure functions of a store (no Flask), so that whichever process builds the saved index (a web
worker or the dispatcher worker, :mod:`dispatch.storage.catalogue`) writes them too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from geo.hours import OpeningHours, parse_opening_hours
from geo.index import StoreIndex
from geo.stores import Store
from geo.zones import zone_to_geojson

TEXT_FILE = "store_json.bin"
OFFSETS_FILE = "store_json_offsets.npy"
_SEPARATOR = "\x00"  # never in ASCII JSON (escaped there) nor in a time zone name
_DISTANCE = '"distance_m":null,'  # a quote in a value is escaped: only the key reads like this
_OPEN = '"open_now":null,'


class StorePieces(NamedTuple):
    """A store's JSON before ``distance_m``, between it and ``open_now``, and after; and what
    ``open_now`` is computed from."""

    head: str
    middle: str
    tail: str
    hours: OpeningHours | None
    zone: ZoneInfo


def dump(value: Any) -> str:
    """JSON as Flask's jsonify writes it (compact, ASCII, keys sorted)."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def store_fields(store: Store, *, open_now: bool | None) -> dict[str, Any]:
    """A store as the API shows it (``open_now`` at the moment of the request)."""
    zone = store.delivery_zone
    return {
        "id": store.id,
        "name": store.name,
        "brand": store.brand,
        "kind": store.kind,
        "partner": store.partner,
        "lat": store.lat,
        "lng": store.lng,
        "address": store.address,
        "opening_hours": store.opening_hours,
        "timezone": store.timezone,
        "open_now": open_now,
        "prep_time_s": store.prep_time_s,
        "capacity_per_hour": store.capacity_per_hour,
        "delivery_radius_m": store.delivery_radius_m,
        "delivery_zone": None if zone is None else zone_to_geojson(zone),
    }


def store_texts(store: Store) -> tuple[str, str, str]:
    """The three pieces of text: one encoding of the whole object, cut at the two fields."""
    text = dump(store_fields(store, open_now=None) | {"distance_m": None})
    cut = text.index(_DISTANCE)
    head, rest = text[:cut], text[cut + len(_DISTANCE) :]
    cut = rest.index(_OPEN)
    return head, rest[:cut], rest[cut + len(_OPEN) :]


def store_pieces(store: Store) -> StorePieces:
    return StorePieces(*store_texts(store), store.hours, store.zone)


def save_store_pieces(index: StoreIndex, folder: Path) -> None:
    """Write every store's pieces, by index position, into ``folder`` (the saved index's)."""
    records = []
    for position in range(len(index)):
        store = index.store_at(position)
        # the hours' text last: "" for none (an empty opening_hours is refused at import)
        fields = (*store_texts(store), store.timezone, store.opening_hours or "")
        records.append(_SEPARATOR.join(fields).encode())
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in records], out=offsets[1:])
    with (folder / TEXT_FILE).open("wb") as out:
        out.writelines(records)
    np.save(folder / OFFSETS_FILE, offsets)


class MappedPieces:
    """The pieces written by :func:`save_store_pieces`, read from the mapped file by position."""

    def __init__(self, text: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> None:
        self._text = text
        self._offsets = offsets

    @classmethod
    def load(cls, folder: Path) -> MappedPieces | None:
        """The folder's pieces, or None when it has none (saved by an older version)."""
        if not (folder / OFFSETS_FILE).exists():
            return None
        offsets = np.asarray(np.load(folder / OFFSETS_FILE, mmap_mode="r"))
        size = (folder / TEXT_FILE).stat().st_size
        text = (
            np.asarray(np.memmap(folder / TEXT_FILE, dtype=np.uint8, mode="r"))
            if size
            else np.zeros(0, dtype=np.uint8)
        )
        return cls(text, offsets)

    def __getitem__(self, position: int) -> StorePieces:
        start, end = self._offsets[position : position + 2].tolist()
        head, middle, tail, zone, hours = (
            self._text[start:end].tobytes().decode().split(_SEPARATOR, 4)
        )
        parsed = parse_opening_hours(hours) if hours else None
        return StorePieces(head, middle, tail, parsed, ZoneInfo(zone))
