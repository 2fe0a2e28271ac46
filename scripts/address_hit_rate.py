#!/usr/bin/env python3
"""How many demo stores' addresses the address search finds, and how far from the store.

    python scripts/address_hit_rate.py                       # the demo catalogue and address data
    python scripts/address_hit_rate.py --catalogue c.geojson --addresses a.csv

Each store's catalogue ``address`` is searched as a shopper would type it. Most demo stores have
only their city there (OSM gives no street for them): those are counted apart, as not
searchable. For the others it reports the first hit's match (``house``: that street and number),
its distance from the store, and the same search again with the store's own OSM element left out
of the address data (the demo stores' addresses come from those very elements, so a hit on them
proves the reading of the text, not that other data would place the address), which shows what
the neighbours' addresses and the streets give instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from geo.addresses import AddressBook, AddressHit, load_addresses
from geo.catalogue import load_catalogue
from geo.distance import haversine_m
from geo.stores import Store

ROOT = Path(__file__).resolve().parent.parent
CITY_ONLY = {"Taichung", "Zhubei"}


def _describe(store: Store, hit: AddressHit | None) -> tuple[str, float | None]:
    if hit is None:
        return "none", None
    return hit.match, haversine_m(store.lat, store.lng, hit.entry.lat, hit.entry.lng)


def _summary(label: str, results: list[tuple[str, float | None]], total: int) -> None:
    houses = [d for match, d in results if match == "house" and d is not None]
    found = [d for _, d in results if d is not None]
    near = sum(1 for d in found if d <= 50)
    median = f"{statistics.median(found):.0f} m" if found else "-"
    print(f"{label}: house {len(houses)}/{total}, any hit {len(found)}/{total}, "
          f"within 50 m {near}/{total}, median distance {median}, "
          f"max {max(found):.0f} m" if found else f"{label}: nothing found")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--catalogue", type=Path, default=ROOT / "data" / "demo_stores.geojson")
    parser.add_argument("--addresses", type=Path, default=ROOT / "data" / "demo_addresses.csv")
    args = parser.parse_args()
    stores = load_catalogue(args.catalogue)
    book = load_addresses(args.addresses)
    searchable = [s for s in stores if s.address.strip() not in CITY_ONLY and s.address.strip()]
    print(f"{len(stores)} stores; {len(searchable)} with a street address, "
          f"{len(stores) - len(searchable)} with only their city (not searchable)")  # fmt: skip
    full, without = [], []
    for store in searchable:
        hits = book.search(store.address, limit=1)
        own = _describe(store, hits[0] if hits else None)
        others = AddressBook(e for e in book.entries if e.id != store.id)
        hits = others.search(store.address, limit=1)
        blind = _describe(store, hits[0] if hits else None)
        full.append(own)
        without.append(blind)
        print(f"  {store.id:24} {store.address:32} {own[0]:14} "
              f"{'-' if own[1] is None else f'{own[1]:.0f} m':>8}   without its own element: "
              f"{blind[0]:14} {'-' if blind[1] is None else f'{blind[1]:.0f} m':>8}")  # fmt: skip
    _summary("with the store's own element", full, len(searchable))
    _summary("without it", without, len(searchable))
    print(f"over all {len(stores)} stores: a position for {sum(d is not None for _, d in full)}")
    timings = []
    for _ in range(20):
        for store in searchable:
            started = time.perf_counter()
            book.search(store.address, limit=5)
            timings.append(time.perf_counter() - started)
    median_us = statistics.median(timings) * 1e6
    p90_us = statistics.quantiles(timings, n=10)[-1] * 1e6
    print(f"search time over {len(book)} entries: median {median_us:.0f} us, "
          f"p90 {p90_us:.0f} us a query")  # fmt: skip


if __name__ == "__main__":
    main()
