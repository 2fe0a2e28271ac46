"""The street map drawn under the pages' data: the drivable ways of an OpenStreetMap extract.

Served by the service itself, so the maps show streets with no tile server. Each way keeps its
own shape (every node, not only the crossings the routing graph keeps), rounded to 5 decimals
(about a metre), with a class the page styles by: ``major`` (motorway to secondary), ``minor``
(tertiary, residential and the like) and ``service``. Read with the standard library (the
extracts are small) and cached on disk beside the road network's cache.
"""

from __future__ import annotations

import bz2
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.roads import VEHICLE_WAYS
from geo.travel import LatLng

CACHE_VERSION = 1
DECIMALS = 5
MAJOR_WAYS = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link",
})  # fmt: skip
STREET_CLASSES = ("major", "minor", "service")


@dataclass(frozen=True, slots=True)
class Street:
    """One drivable way: its class and its line, ``(lat, lng)`` pairs."""

    kind: str
    line: tuple[LatLng, ...]

    def __post_init__(self) -> None:
        if self.kind not in STREET_CLASSES:
            msg = f"street class must be one of {', '.join(STREET_CLASSES)}"
            raise ValueError(msg)
        if len(self.line) < 2:
            msg = "a street needs at least two points"
            raise ValueError(msg)


BBox = tuple[float, float, float, float]  # min lng, min lat, max lng, max lat (GeoJSON order)


def street_class(highway: str) -> str | None:
    """The map class of an OSM ``highway`` value; None for ways no vehicle may use."""
    if highway not in VEHICLE_WAYS:
        return None
    if highway in MAJOR_WAYS:
        return "major"
    return "service" if highway == "service" else "minor"


def streets_from_osm(path: Path, *, cache_dir: Path) -> tuple[Street, ...]:
    """The drivable ways of an ``.osm``/``.osm.bz2`` extract, or the cached read of it."""
    cache = cache_dir / f"{path.name}.streets-v{CACHE_VERSION}.json"
    if cache.exists() and cache.stat().st_mtime >= path.stat().st_mtime:
        rows = json.loads(cache.read_text())
    else:
        rows = [[s.kind, [list(p) for p in s.line]] for s in _read(path)]
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.part")  # several processes may build
        partial.write_text(json.dumps(rows, separators=(",", ":")))
        partial.replace(cache)
    return tuple(Street(kind, tuple((lat, lng) for lat, lng in line)) for kind, line in rows)


def streets_geojson(streets: Iterable[Street], bbox: BBox | None = None) -> dict[str, Any]:
    """The streets (those touching ``bbox`` when given) as GeoJSON lines with a ``class``."""
    features = [
        {"type": "Feature", "properties": {"class": s.kind},
         "geometry": {"type": "LineString", "coordinates": [[lng, lat] for lat, lng in s.line]}}
        for s in streets
        if bbox is None or _touches(s.line, bbox)
    ]  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _touches(line: Sequence[LatLng], bbox: BBox) -> bool:
    """Whether the line's own bounding box meets ``bbox`` (enough for a map: a few extra)."""
    lats = [p[0] for p in line]
    lngs = [p[1] for p in line]
    west, south, east, north = bbox
    return min(lngs) <= east and max(lngs) >= west and min(lats) <= north and max(lats) >= south


def _read(path: Path) -> list[Street]:
    opener = bz2.open if path.suffix == ".bz2" else open
    nodes: dict[str, LatLng] = {}
    streets: list[Street] = []
    with opener(path, "rb") as handle:
        for _, element in ET.iterparse(handle):
            if element.tag == "node":
                lat, lng = element.get("lat"), element.get("lon")
                if lat is not None and lng is not None:
                    nodes[element.get("id", "")] = (
                        round(float(lat), DECIMALS), round(float(lng), DECIMALS))  # fmt: skip
                element.clear()
            elif element.tag == "way":
                tags = {tag.get("k"): tag.get("v") for tag in element.iter("tag")}
                kind = street_class(tags.get("highway") or "")
                refs = [nd.get("ref", "") for nd in element.iter("nd")]
                line = [nodes[ref] for ref in refs if ref in nodes]  # a cleaned extract has all
                # consecutive nodes that round to one point add nothing to the drawing
                line = [p for i, p in enumerate(line) if i == 0 or p != line[i - 1]]
                if kind is not None and len(line) >= 2:
                    streets.append(Street(kind, tuple(line)))
                element.clear()
    return streets
