"""The base map's streets read from an OSM extract: drivable ways only, their own shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.settings import PROJECT_ROOT
from geo.streets import Street, street_class, streets_from_osm, streets_geojson

EXTRACT = PROJECT_ROOT / "data" / "osm" / "taichung_xitun.osm.bz2"

SMALL = """<?xml version="1.0"?>
<osm version="0.6">
 <node id="1" lat="24.1800001" lon="120.6000001"/>
 <node id="2" lat="24.1810000" lon="120.6010000"/>
 <node id="3" lat="24.1820000" lon="120.6000000"/>
 <node id="4" lat="24.1820000" lon="120.6000000"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/></way>
 <way id="11"><nd ref="1"/><nd ref="3"/><tag k="highway" v="footway"/></way>
 <way id="12"><nd ref="2"/><nd ref="3"/><nd ref="4"/><tag k="highway" v="service"/></way>
 <way id="13"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
 <way id="14"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way>
</osm>
"""


def test_a_small_extract_gives_its_drivable_ways_with_every_node(tmp_path: Path) -> None:
    """Footways and buildings are left out; a way keeps its middle nodes, rounded to 5 decimals;
    a way that collapses to one point is dropped."""
    path = tmp_path / "small.osm"
    path.write_text(SMALL)
    streets = streets_from_osm(path, cache_dir=tmp_path / "cache")
    assert streets == (
        Street("major", ((24.18, 120.6), (24.181, 120.601), (24.182, 120.6))),
        Street("service", ((24.181, 120.601), (24.182, 120.6))),
    )
    assert streets_from_osm(path, cache_dir=tmp_path / "cache") == streets  # from the cache


def test_the_demo_extract_and_a_bbox(tmp_path: Path) -> None:
    """Hundreds of streets in Taichung; a box around one corner keeps only those touching it."""
    streets = streets_from_osm(EXTRACT, cache_dir=tmp_path)
    assert len(streets) > 200
    assert {s.kind for s in streets} == {"major", "minor", "service"}
    whole = streets_geojson(streets)
    corner = streets_geojson(streets, (120.59, 24.17, 120.595, 24.18))
    assert 0 < len(corner["features"]) < len(whole["features"])
    for feature in corner["features"]:
        lngs = [lng for lng, _ in feature["geometry"]["coordinates"]]
        lats = [lat for _, lat in feature["geometry"]["coordinates"]]
        assert min(lngs) <= 120.595 and max(lngs) >= 120.59
        assert min(lats) <= 24.18 and max(lats) >= 24.17


@pytest.mark.parametrize(
    ("highway", "kind"),
    [("motorway_link", "major"), ("secondary", "major"), ("tertiary", "minor"),
     ("living_street", "minor"), ("service", "service"), ("footway", None), ("steps", None)],
)  # fmt: skip
def test_street_classes(highway: str, kind: str | None) -> None:
    """Each OSM highway value gets its map class, or none where no vehicle goes."""
    assert street_class(highway) == kind


def test_a_street_needs_two_points_and_a_known_class() -> None:
    """The value object refuses what it could not draw."""
    with pytest.raises(ValueError, match="two points"):
        Street("minor", ((24.0, 120.0),))
    with pytest.raises(ValueError, match="class"):
        Street("footway", ((24.0, 120.0), (24.1, 120.0)))
