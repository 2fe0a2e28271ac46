"""A generated day of convenience-store orders in the demo city, for the simulator.

Orders come in two peaks (lunch and dinner) over a 10:00-22:00 day, each from a random partner
store to a door within ``radius_m`` of it, ready 5-15 minutes after it is placed. Couriers work
early, late or middle shifts from a store. Travel times come from a :class:`TravelModel` (the
street network of the demo city in the simulate script), computed once for every point of the
day so that the simulation itself only looks them up.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from dispatch.simulator import Day, Point, SimCourier, SimOrder
from geo.travel import LatLng, TravelModel

HOUR = 3600
SHIFTS = ((10 * HOUR, 16 * HOUR), (16 * HOUR, 22 * HOUR), (11 * HOUR, 20 * HOUR))
# The default fleet is sized for the peaks: 300 orders put 55-75 into the busiest hour, and a
# courier carries 3-4 an hour there. 12 couriers (8 on shift at each peak) kept 77-84 % within
# the hour, 16 (11 at lunch) 96.7-100 % depending on how loaded the machine was, 18 (12 on
# shift) 100 % (docs/benchmarks.md, issue 14).
COURIERS = 18
# (share of the day's orders, mean hour, spread in hours): lunch, dinner and a steady trickle
PEAKS = ((0.4, 12.25, 0.75), (0.4, 18.5, 0.9), (0.2, 16.0, 3.5))


def generated_day(
    stores: Sequence[LatLng],
    travel: TravelModel,
    *,
    orders: int = 300,
    couriers: int = COURIERS,
    vehicle: str = "e-bike",
    capacity: int = 3,
    radius_m: float = 2000.0,
    seed: int = 1,
) -> Day:
    """A reproducible day (``seed``); times are seconds after local midnight."""
    if not stores:
        msg = "a generated day needs at least one store"
        raise ValueError(msg)
    rng = random.Random(seed)
    day_orders = []
    for i in range(orders):
        placed = _placement_s(rng)
        store = rng.choice(stores)
        ready = placed + rng.randint(5 * 60, 15 * 60)
        day_orders.append(SimOrder(f"d{i:04d}", placed, ready, store, _near(rng, store, radius_m)))
    fleet = tuple(
        SimCourier(f"c{k:02d}", rng.choice(stores), *SHIFTS[k % len(SHIFTS)], capacity=capacity)
        for k in range(couriers)
    )
    points = sorted(
        {p for o in day_orders for p in (o.store, o.customer)} | {c.start for c in fleet}
    )
    seconds = travel.matrix_seconds(points, vehicle=vehicle)
    where = {p: i for i, p in enumerate(points)}

    def travel_s(a: Point, b: Point) -> int:
        return int(seconds[where[a]][where[b]])

    ordered = tuple(sorted(day_orders, key=lambda o: o.placed_at))
    return Day(ordered, fleet, travel_s, pickup_service_s=120, delivery_service_s=120,
               target_s=HOUR)  # fmt: skip


def _placement_s(rng: random.Random) -> int:
    """A placement time in the 10:00-21:30 ordering window, drawn from the day's peaks."""
    _, mean, spread = rng.choices(PEAKS, weights=[share for share, _, _ in PEAKS])[0]
    hour = min(21.5, max(10.0, rng.gauss(mean, spread)))
    return int(hour * HOUR)


def _near(rng: random.Random, centre: LatLng, radius_m: float) -> Point:
    """A uniformly random point within ``radius_m`` of ``centre`` (flat-earth offsets)."""
    distance = radius_m * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    lat = centre[0] + distance * math.cos(bearing) / 111_320
    lng = centre[1] + distance * math.sin(bearing) / (111_320 * math.cos(math.radians(centre[0])))
    return (round(lat, 6), round(lng, 6))
