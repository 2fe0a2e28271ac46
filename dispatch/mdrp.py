"""Reading a Grubhub Meal Delivery Routing Problem instance into a simulated :class:`Day`.

Format (tab-separated, a header line each; times in minutes from the start of the day, positions
in metres): restaurants.txt, orders.txt, couriers.txt, instance_parameters.txt. Travel time is
the instance's own rule, ceil(euclidean metres / metres per minute).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from dispatch.simulator import Day, Point, SimCourier, SimOrder

MDRP_CAPACITY = 2  # orders a courier carries at once (a bag of two, as in the MDRP paper's runs)


def _rows(path: Path) -> list[dict[str, str]]:
    """Rows as dicts, headers normalised ("pickup service minutes" -> "pickup_service_minutes")."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [{k.strip().replace(" ", "_"): v.strip() for k, v in row.items()} for row in rows]


def read_mdrp(folder: Path, *, capacity: int = MDRP_CAPACITY) -> Day:
    """One instance folder as a :class:`Day` (seconds internally)."""
    (params,) = _rows(folder / "instance_parameters.txt")
    metres_per_minute = float(params["meters_per_minute"])
    restaurants = {
        r["restaurant"]: (float(r["x"]), float(r["y"])) for r in _rows(folder / "restaurants.txt")
    }
    orders = tuple(
        SimOrder(
            row["order"],
            placed_at=int(float(row["placement_time"]) * 60),
            ready_at=int(float(row["ready_time"]) * 60),
            store=restaurants[row["restaurant"]],
            customer=(float(row["x"]), float(row["y"])),
        )
        for row in _rows(folder / "orders.txt")
    )
    couriers = tuple(
        SimCourier(row["courier"], (float(row["x"]), float(row["y"])),
                   on_at=int(float(row["on_time"]) * 60), off_at=int(float(row["off_time"]) * 60),
                   capacity=capacity)
        for row in _rows(folder / "couriers.txt")
    )  # fmt: skip

    def travel_s(a: Point, b: Point) -> int:
        return 60 * math.ceil(math.dist(a, b) / metres_per_minute)

    return Day(
        orders, couriers, travel_s,
        pickup_service_s=int(float(params["pickup_service_minutes"]) * 60),
        dropoff_service_s=int(float(params["dropoff_service_minutes"]) * 60),
        target_s=int(float(params["target_click-to-door"]) * 60),
    )  # fmt: skip
