"""What the road extracts in the settings (ROAD_EXTRACT) give the service: street travel times
inside each city, and their drivable ways as the pages' base map. Both read OpenStreetMap files
(cached under ``var_dir/cache``), so they are built once at start-up, not with the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dispatch.errors import ConfigError
from dispatch.settings import Settings
from geo.travel import StraightLineTravel, TravelModel

if TYPE_CHECKING:
    from geo.streets import Street


def travel_model(settings: Settings) -> TravelModel:
    """The travel times the settings ask for: the streets of each of ``road_extracts`` inside
    its city, straight lines elsewhere (everywhere without extracts)."""
    if not settings.road_extracts:
        return StraightLineTravel()
    from geo.roads import RoadNetworksTravel, RoadNetworkTravel  # osmnx, only paid when used

    for path in settings.road_extracts:
        if not path.exists():
            msg = f"ROAD_EXTRACT {path} does not exist"
            raise ConfigError(msg)
    cache_dir = settings.var_dir / "cache"
    return RoadNetworksTravel(
        [RoadNetworkTravel.from_osm(path, cache_dir=cache_dir) for path in settings.road_extracts]
    )


def street_map(settings: Settings) -> tuple[Street, ...]:
    """The drivable ways of each of ``road_extracts``, drawn as the pages' base map."""
    from geo.streets import streets_from_osm  # reads geo.roads (scipy), only paid when used

    cache_dir = settings.var_dir / "cache"
    return tuple(s for path in settings.road_extracts
                 for s in streets_from_osm(path, cache_dir=cache_dir))  # fmt: skip
