#!/usr/bin/env python3
"""Build data/demo_addresses.csv, the address search's data, from the demo cities' OSM extracts.

Three kinds of row, each with a position:

- ``house``: an element tagged ``addr:street`` and ``addr:housenumber`` (a node, or a way at the
  mean of its nodes); ``898;900`` gives one row per number, a trailing 號 is dropped;
- ``street``: every named highway way of one name, at the vertex of those ways nearest their
  mean (a point on the street, near its middle), with the most common ``name:en``;
- ``place``: another named element (shop, amenity, building, ...) without a street address.

The city's Chinese name is taken as OSM's ``addr:city`` is usually written in each city (臺中市;
新竹縣, with the district 竹北市); in Taichung a district only where the element names one.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITIES = {  # folder -> (city, its name in Chinese, the district where OSM names none)
    "osm-taichung-tw": ("Taichung", "臺中市", ""),  # two districts: Xitun and Longjing
    "osm-zhubei-tw": ("Zhubei", "新竹縣", "竹北市"),  # a county city, one district itself
}
COLUMNS = ("id", "kind", "city", "city_zh", "district", "street", "street_en", "housenumber",
           "name", "name_en", "lat", "lng")  # fmt: skip
PLACE_KEYS = ("amenity", "shop", "tourism", "leisure", "office", "building", "place", "healthcare",
              "craft", "historic", "railway", "public_transport")  # fmt: skip
NUMBER_SEPARATORS = re.compile(r"[;,、/]")


def _clean_number(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().removesuffix("號").removesuffix("号").strip()


def rows_of(extract: Path, city: str, city_zh: str, district: str) -> list[dict[str, str]]:
    with bz2.open(extract) as handle:
        root = ET.parse(handle).getroot()
    nodes = {n.get("id"): (float(n.get("lat", "nan")), float(n.get("lon", "nan")))
             for n in root.iter("node")}  # fmt: skip
    rows: list[dict[str, str]] = []
    street_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    street_en: dict[str, Counter[str]] = defaultdict(Counter)
    for element in root:
        if element.tag not in ("node", "way"):
            continue
        tags = {t.get("k", ""): t.get("v", "") for t in element.findall("tag")}
        if element.tag == "node":
            points = [(float(element.get("lat", "nan")), float(element.get("lon", "nan")))]
        else:
            points = [nodes[r] for nd in element.findall("nd") if (r := nd.get("ref")) in nodes]
        if not points:
            continue
        name = tags.get("name", "")
        if element.tag == "way" and "highway" in tags and name:
            street_points[name].extend(points)
            if tags.get("name:en"):
                street_en[name][tags["name:en"]] += 1
            continue
        unique = list(dict.fromkeys(points))
        lat = sum(p[0] for p in unique) / len(unique)
        lng = sum(p[1] for p in unique) / len(unique)
        base = {
            "id": f"osm-{element.tag}-{element.get('id')}",
            "city": city,
            "city_zh": city_zh,
            "district": tags.get("addr:district") or district,
            "name": name,
            "name_en": tags.get("name:en", ""),
            "lat": f"{lat:.7f}",
            "lng": f"{lng:.7f}",
        }
        street, numbers = tags.get("addr:street", ""), tags.get("addr:housenumber", "")
        if street and numbers:
            for number in NUMBER_SEPARATORS.split(numbers):
                if _clean_number(number):
                    rows.append(base | {"kind": "house", "street": street,
                                        "housenumber": _clean_number(number)})  # fmt: skip
        elif name and "highway" not in tags and any(k in tags for k in PLACE_KEYS):
            rows.append(base | {"kind": "place", "street": street, "housenumber": ""})
    english = {name: counts.most_common(1)[0][0] for name, counts in street_en.items()}
    for name, points in sorted(street_points.items()):
        mean_lat = sum(p[0] for p in points) / len(points)
        mean_lng = sum(p[1] for p in points) / len(points)
        lat, lng = min(points, key=lambda p: (p[0] - mean_lat) ** 2 + (p[1] - mean_lng) ** 2)
        rows.append({"id": f"street-{city.lower()}-{name}", "kind": "street", "city": city,
                     "city_zh": city_zh, "district": district, "street": name,
                     "street_en": english.get(name, ""), "housenumber": "", "name": "",
                     "name_en": "", "lat": f"{lat:.7f}", "lng": f"{lng:.7f}"})  # fmt: skip
    for row in rows:  # a house's street in English, from the street's own ways
        row.setdefault("street_en", english.get(row["street"], ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data-sources")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "demo_addresses.csv")
    args = parser.parse_args()
    rows: list[dict[str, str]] = []
    for folder, (city, city_zh, district) in CITIES.items():
        (extract,) = (args.data_dir / folder).glob("*.osm.bz2")
        found = rows_of(extract, city, city_zh, district)
        kinds = Counter(row["kind"] for row in found)
        print(f"{city}: {dict(sorted(kinds.items()))}")
        rows += found
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        handle.write("# Map data (c) OpenStreetMap contributors, ODbL 1.0 "
                     "(https://opendatacommons.org/licenses/odbl/1-0/)\n")  # fmt: skip
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
