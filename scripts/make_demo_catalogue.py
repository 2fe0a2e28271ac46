#!/usr/bin/env python3
"""Build data/demo_stores.geojson from the OpenStreetMap store extracts in ../shared/data-sources.

OSM gives location, name, brand, address and sometimes opening hours. What OSM does not say is
filled with stated assumptions: hours (convenience chains 24/7, supermarkets 08:00-22:00),
partner status (every chain store; parcel lockers such as Shopee Xpress are not partners) and the
operating figures dispatch needs (preparation time, orders per hour, delivery radius).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITIES = {"osm-taichung-tw": "Taichung", "osm-zhubei-tw": "Zhubei"}

# Chain names as OSM tags them (brand, or the start of the name) -> the brand we show.
BRANDS = {
    "7-eleven": "7-Eleven",
    "全家": "FamilyMart",
    "familymart": "FamilyMart",
    "萊爾富": "Hi-Life",
    "hi-life": "Hi-Life",
    "ok": "OK Mart",
    "蝦皮": "Shopee Xpress",
    "家樂福": "Carrefour",
    "美廉社": "Simple Mart",
    "全聯": "PX Mart",
    "頂好": "Wellcome",
    "億客來": "Yikelai",
    "喜美": "Simei",
}
NOT_PARTNERS = {"Shopee Xpress"}  # parcel pick-up points, not shops with stock
PROFILE = {  # prep time s, orders per hour, delivery radius m, default hours
    "convenience": (300, 30, 3000.0, "24/7"),
    "supermarket": (600, 60, 5000.0, "Mo-Su 08:00-22:00"),
}


def brand_of(row: dict[str, str]) -> str:
    for text in (row["brand:en"], row["brand"], row["name"]):
        folded = text.casefold()
        for prefix, brand in BRANDS.items():
            if folded.startswith(prefix):
                return brand
    return row["brand"] or row["name"]


def feature(row: dict[str, str], city: str) -> dict[str, object]:
    kind = row["shop"]
    prep, capacity, radius, default_hours = PROFILE[kind]
    brand = brand_of(row)
    address = " ".join(p for p in (row["addr:street"], row["addr:housenumber"]) if p)
    properties = {
        "id": f"osm-{row['osm_type']}-{row['id']}",
        "name": row["name"],
        "brand": brand,
        "kind": kind,
        "partner": brand not in NOT_PARTNERS,
        "address": f"{address}, {city}" if address else city,
        "opening_hours": row["opening_hours"] or default_hours,
        "timezone": "Asia/Taipei",
        "prep_time_s": prep,
        "capacity_per_hour": capacity,
        "delivery_radius_m": radius,
    }
    point = [float(row["lon"]), float(row["lat"])]
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": point},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data-sources")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "demo_stores.geojson")
    args = parser.parse_args()
    features = []
    for folder, city in CITIES.items():
        with (args.data_dir / folder / "stores.csv").open(encoding="utf-8") as handle:
            features.extend(feature(row, city) for row in csv.DictReader(handle))
    collection = {
        "type": "FeatureCollection",
        "name": "demo_stores",
        "attribution": "Map data (c) OpenStreetMap contributors, ODbL 1.0",
        "features": features,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(collection, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(features)} stores to {args.out}")


if __name__ == "__main__":
    main()
