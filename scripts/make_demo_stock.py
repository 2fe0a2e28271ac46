#!/usr/bin/env python3
"""Build data/demo_stock.csv: plausible stock levels of the demo products in the demo stores.

Deterministic: each store's levels come from a fixed seed and its id alone, so adding or merging
a store leaves the others' stock as it was. Convenience stores carry most of the range in small
quantities, supermarkets nearly all of it in larger ones; health items are mostly supermarket
goods. One gap is placed on purpose for the README's walk-through: the 7-Eleven on Fulin Road
(osm-way-617553270) has no fresh milk, so a milk order next to it goes to the next store that has
some.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_MILK_STORE = "osm-way-617553270"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=Path, default=ROOT / "data" / "demo_stores.geojson")
    parser.add_argument("--products", type=Path, default=ROOT / "data" / "demo_products.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "demo_stock.csv")
    args = parser.parse_args()
    stores = [f["properties"] for f in json.loads(args.stores.read_text())["features"]]
    with args.products.open(encoding="utf-8") as handle:
        products = list(csv.DictReader(handle))
    rows = []
    for store in stores:
        rng = random.Random(f"2026:{store['id']}")
        supermarket = store["kind"] == "supermarket"
        for product in products:
            carried = 0.97 if supermarket else (0.4 if product["category"] == "health" else 0.85)
            listed = rng.random() < carried
            qty = rng.randint(10, 80) if supermarket else rng.randint(0, 15)
            if store["id"] == NO_MILK_STORE and product["sku"] == "fresh-milk-936ml":
                listed, qty = True, 0  # carried, sold out
            if not listed:
                continue
            rows.append((store["id"], product["sku"], qty))
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store_id", "sku", "qty"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} stock levels for {len(stores)} stores to {args.out}")


if __name__ == "__main__":
    main()
