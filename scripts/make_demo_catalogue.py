#!/usr/bin/env python3
"""Build data/demo_stores.geojson from the OpenStreetMap store extracts in ../shared/data-sources.

OSM gives location, name, brand, address and sometimes opening hours. What OSM does not say is
filled with stated assumptions: hours (convenience chains 24/7, supermarkets 08:00-22:00),
partner status (every chain store; parcel lockers such as Shopee Xpress are not partners) and the
operating figures dispatch needs (preparation time, orders per hour, delivery radius; two stores
get a delivery zone along real streets instead, ``DEMO_ZONES``).

OSM sometimes maps one store twice (its building and a point inside it): two records of one brand
within ``MERGE_RADIUS_M`` are one store unless their OSM tags tell them apart (a different branch
or phone number; a hospital or campus can have two 7-Elevens a few metres apart). The richer record
is kept and its blanks are filled from the other (see ``merge_duplicates``).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from geo.distance import haversine_m

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
MERGE_RADIUS_M = 25.0  # same brand this close: one store, unless OSM tells the two apart
NOT_PARTNERS = {"Shopee Xpress"}  # parcel pick-up points, not shops with stock
PROFILE = {  # prep time s, orders per hour, delivery radius m, default hours
    "convenience": (300, 30, 3000.0, "24/7"),
    "supermarket": (600, 60, 5000.0, "Mo-Su 08:00-22:00"),
}

# Delivery zones drawn along real streets (the crossings, [lng, lat], read from the OSM extracts in
# data/osm/): these stores deliver inside the polygon instead of within their radius.
DEMO_ZONES = {
    # FamilyMart on Fulian Street, Taichung: the Fu quarter south of Fuke Road, bounded by Fuke
    # Road (north), Lixing Road (east), Taiwan Boulevard Sec. 4 (south) and Dongda Road Sec. 1
    # (west); no deliveries across Fuke Road, although it is well inside 3 km.
    "osm-node-3559052343": [
        [120.6048203, 24.1875815],  # 東大路一段 x 福科路
        [120.6127506, 24.1869141],  # 福科路 x 福科路620巷
        [120.6128172, 24.1840812],  # 力行路 x 臺灣大道四段
        [120.6067258, 24.1836166],  # 東海南路 x 臺灣大道四段
        [120.6038903, 24.1860440],  # 東大路一段 x 福順路
    ],
    # PX Mart, Zhubei: the old centre between Zhongshan Road, Xianzheng 2nd Road, Guangming 1st
    # Road and Renyi Road, instead of 5 km around.
    "osm-node-3302499876": [
        [121.0158493, 24.8377705],  # 中山路 x 仁義路
        [121.0202010, 24.8356230],  # 中山路 x 縣政二路
        [121.0174573, 24.8299901],  # 縣政二路 x 光明一路
        [121.0136265, 24.8306933],  # 光明一路 x 吳濁流路
        [121.0144401, 24.8329739],  # 三民路 x 仁義路
    ],
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
    zone = DEMO_ZONES.get(str(properties["id"]))
    if zone is not None:
        properties["delivery_zone"] = {"type": "Polygon", "coordinates": [[*zone, zone[0]]]}
    point = [float(row["lon"]), float(row["lat"])]
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": point},
    }


def osm_tags(extract: Path, ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """The OSM tags of the stores ``ids`` (``osm-node-1``, ``osm-way-2``) in an ``.osm.bz2``."""
    wanted = set(ids)
    tags: dict[str, dict[str, str]] = {}
    with bz2.open(extract) as handle:
        for _, element in ET.iterparse(handle):
            if element.tag in ("node", "way", "relation"):
                key = f"osm-{element.tag}-{element.get('id')}"
                if key in wanted:
                    tags[key] = {t.get("k", ""): t.get("v", "") for t in element.iter("tag")}
                element.clear()
    return tags


def told_apart(a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether OSM says two records are different stores: both name a branch, or both give a
    phone number, and these differ."""
    if a.get("branch") and b.get("branch") and a["branch"] != b["branch"]:
        return True
    phones = [re.sub(r"\D", "", t.get("phone", "")) for t in (a, b)]
    return all(phones) and phones[0] != phones[1]


def store_id(row: dict[str, str]) -> str:
    return f"osm-{row['osm_type']}-{row['id']}"


def richness(row: dict[str, str]) -> tuple[int, bool]:
    """How much OSM says of a store: a name beyond its brand, a street address, opening hours
    (counted); then whether it is a building outline (a way), which places it best."""
    said = (row["name"] != brand_of(row), bool(row["addr:street"]), bool(row["opening_hours"]))
    return sum(said), row["osm_type"] == "way"


def merge_duplicates(
    rows: list[dict[str, str]], tags: dict[str, dict[str, str]]
) -> tuple[list[dict[str, str]], list[tuple[str, str, float]]]:
    """The store rows with each duplicate folded into the richer record (its blanks filled from
    the other), in the order of first appearance; and (kept id, merged id, metres) per merge.
    Repeated until no two rows are one store (a merge may move the kept record)."""
    merges: list[tuple[str, str, float]] = []
    while True:
        rows, found = _merge_pass(rows, tags)
        if not found:
            return rows, merges
        merges += found


def _merge_pass(
    rows: list[dict[str, str]], tags: dict[str, dict[str, str]]
) -> tuple[list[dict[str, str]], list[tuple[str, str, float]]]:
    kept: list[dict[str, str]] = []
    merges = []
    for row in rows:
        for k, other in enumerate(kept):
            metres = haversine_m(float(row["lat"]), float(row["lon"]),
                                 float(other["lat"]), float(other["lon"]))  # fmt: skip
            apart = told_apart(tags.get(store_id(row), {}), tags.get(store_id(other), {}))
            if brand_of(row) != brand_of(other) or metres > MERGE_RADIUS_M or apart:
                continue
            richer, poorer = sorted((other, row), key=richness, reverse=True)
            kept[k] = {key: value or poorer[key] for key, value in richer.items()}
            merges.append((store_id(richer), store_id(poorer), metres))
            break
        else:
            kept.append(row)
    return kept, merges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data-sources")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "demo_stores.geojson")
    args = parser.parse_args()
    features = []
    for folder, city in CITIES.items():
        with (args.data_dir / folder / "stores.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        (extract,) = (args.data_dir / folder).glob("*.osm.bz2")
        rows, merges = merge_duplicates(rows, osm_tags(extract, map(store_id, rows)))
        for kept, merged, metres in merges:
            print(f"{city}: {merged} merged into {kept} ({metres:.1f} m apart)")
        features.extend(feature(row, city) for row in rows)
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
