#!/usr/bin/env python3
"""Generate a large synthetic store catalogue (GeoParquet, GeoJSON or CSV) for benchmarks.

    python scripts/generate_catalogue.py --count 1000000 --out data/generated/stores_1m.parquet

Stores cluster around real city centres (see scripts/synthetic.py) with chain brands, kinds,
opening hours and operating figures; the output loads with ``flask --app app stores import``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import (
    CITIES,
    CONVENIENCE_BRANDS,
    GROCERY_BRANDS,
    HOURS,
    KIND_SHARES,
    PHARMACY_BRANDS,
    SUPERMARKET_BRANDS,
    sample_points,
)

BRANDS_BY_KIND = {
    "convenience": CONVENIENCE_BRANDS,
    "supermarket": SUPERMARKET_BRANDS,
    "grocery": GROCERY_BRANDS,
    "pharmacy": PHARMACY_BRANDS,
}
FIGURES = {  # prep time s, orders per hour, delivery radius m
    "convenience": (300, 30, 3000.0),
    "supermarket": (600, 60, 5000.0),
    "grocery": (420, 15, 2500.0),
    "pharmacy": (300, 20, 4000.0),
}


def generate(count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lats, lngs, city = sample_points(count, rng)
    kinds = np.array(list(KIND_SHARES))
    kind = kinds[rng.choice(len(kinds), size=count, p=list(KIND_SHARES.values()))]
    frame = pd.DataFrame({"id": [f"syn-{i:07d}" for i in range(count)], "kind": kind})
    brand = np.empty(count, dtype=object)
    hours = np.empty(count, dtype=object)
    prep = np.empty(count, dtype=np.int64)
    capacity = np.empty(count, dtype=np.int64)
    radius = np.empty(count, dtype=np.float64)
    for name, brands in BRANDS_BY_KIND.items():
        mask = kind == name
        n = int(mask.sum())
        popularity = 1.0 / np.arange(1, len(brands) + 1)  # a few chains dominate
        brand[mask] = np.array(brands)[rng.choice(len(brands), n, p=popularity / popularity.sum())]
        hours[mask] = np.array(HOURS[name])[(rng.random(n) < 0.15).astype(int)]
        prep[mask], capacity[mask], radius[mask] = FIGURES[name]
    frame["brand"] = brand
    frame["name"] = [f"{b} #{i}" for i, b in enumerate(brand)]
    frame["partner"] = rng.random(count) < 0.6
    frame["address"] = [CITIES[c].name for c in city]
    frame["opening_hours"] = hours
    frame["timezone"] = [CITIES[c].timezone for c in city]
    frame["prep_time_s"] = prep
    frame["capacity_per_hour"] = capacity
    frame["delivery_radius_m"] = radius
    frame["lat"] = lats
    frame["lng"] = lngs
    return frame


def write(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
        return
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lng"]),
        geometry=gpd.points_from_xy(frame["lng"], frame["lat"]),
        crs="EPSG:4326",
    )
    if out.suffix in (".parquet", ".geoparquet"):
        geo.to_parquet(out)
    else:
        geo.to_file(out, driver="GeoJSON")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, required=True, help=".parquet, .geojson or .csv")
    args = parser.parse_args()
    started = time.perf_counter()
    frame = generate(args.count, args.seed)
    write(frame, args.out)
    print(f"wrote {len(frame):,} stores to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
