"""The Grubhub Meal Delivery Routing Problem under its official rules (Reyes et al., 2018).

An instance folder holds tab-separated files with a header line each (times in whole minutes
from the start of the day, positions in metres): restaurants.txt, orders.txt, couriers.txt,
instance_parameters.txt. The rules, as MDRPInstances.pdf states them:

- travel between two points takes ceil(euclidean metres / metres per minute) minutes;
- a courier is at its on-location from its on-time and must pick up by its off-time (it may
  drop off later);
- an assignment is one restaurant's orders (a bundle) with their drop-off sequence; the courier
  leaves when it is sent, picks up at max(latest ready time, arrival + s_r/2) and leaves the
  restaurant s_r/2 later; each drop-off is at arrival + s_o/2, departure s_o/2 later;
- couriers take instructions only while waiting, at their on-location or at the last drop-off
  of their assignment: once sent, an assignment is carried out to the end (no diversion, no
  assignment updates).

:class:`Dispatch` enforces these rules on every assignment a policy sends; :func:`run_day`
drives a policy over a whole day, :func:`write_solution` writes the three files the official
evaluator reads, and :func:`figures` computes the paper's performance measures. Pure apart
from reading and writing those files.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dispatch.simulator import Day, Point, SimCourier, SimOrder

MDRP_CAPACITY = 2  # the seconds-based simulator's bag (its multi-store routes are not MDRP's)


class RuleError(ValueError):
    """An assignment the official rules do not allow."""


@dataclass(frozen=True, slots=True)
class MdrpOrder:
    id: str
    point: Point  # drop-off location
    placed: int  # minutes
    restaurant: str
    ready: int


@dataclass(frozen=True, slots=True)
class MdrpCourier:
    id: str
    point: Point  # on-location
    on: int
    off: int


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    restaurants: Mapping[str, Point]
    orders: tuple[MdrpOrder, ...]
    couriers: tuple[MdrpCourier, ...]
    metres_per_minute: float
    pickup_service: int  # s_r, minutes
    dropoff_service: int  # s_o
    target: int  # click-to-door target, minutes
    maximum: int  # maximum click-to-door
    pay_per_order: float
    pay_per_hour: float

    def travel(self, a: Point, b: Point) -> int:
        return math.ceil(math.dist(a, b) / self.metres_per_minute)

    @property
    def half_pickup(self) -> int:
        return self.pickup_service // 2

    @property
    def half_dropoff(self) -> int:
        return self.dropoff_service // 2


def _rows(path: Path) -> list[dict[str, str]]:
    """Rows as dicts, headers normalised ("pickup service minutes" -> "pickup_service_minutes")."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [{k.strip().replace(" ", "_"): v.strip() for k, v in row.items()} for row in rows]


def read_instance(folder: Path) -> Instance:
    """One instance folder, in minutes and metres as given."""
    (params,) = _rows(folder / "instance_parameters.txt")
    restaurants = {
        r["restaurant"]: (float(r["x"]), float(r["y"])) for r in _rows(folder / "restaurants.txt")
    }
    orders = tuple(
        MdrpOrder(row["order"], (float(row["x"]), float(row["y"])), int(row["placement_time"]),
                  row["restaurant"], int(row["ready_time"]))
        for row in _rows(folder / "orders.txt")
    )  # fmt: skip
    couriers = tuple(
        MdrpCourier(row["courier"], (float(row["x"]), float(row["y"])), int(row["on_time"]),
                    int(row["off_time"]))
        for row in _rows(folder / "couriers.txt")
    )  # fmt: skip
    pickup, dropoff = int(params["pickup_service_minutes"]), int(params["dropoff_service_minutes"])
    if pickup % 2 or dropoff % 2:  # every public instance has 4 and 4: times stay whole minutes
        raise ValueError(f"{folder.name}: odd service minutes are not supported")
    return Instance(
        folder.name, restaurants, orders, couriers,
        metres_per_minute=float(params["meters_per_minute"]),
        pickup_service=pickup, dropoff_service=dropoff,
        target=int(params["target_click-to-door"]), maximum=int(params["maximum_click-to-door"]),
        pay_per_order=float(params["pay_per_order"]),
        pay_per_hour=float(params["guaranteed_pay_per_hour"]),
    )  # fmt: skip


def read_mdrp(folder: Path, *, capacity: int = MDRP_CAPACITY) -> Day:
    """An instance as a seconds-based :class:`Day` for the service's own simulator (not the
    official rules: that simulator adds full service times and allows multi-store routes)."""
    instance = read_instance(folder)
    orders = tuple(
        SimOrder(o.id, o.placed * 60, o.ready * 60, instance.restaurants[o.restaurant], o.point)
        for o in instance.orders
    )
    couriers = tuple(
        SimCourier(c.id, c.point, on_at=c.on * 60, off_at=c.off * 60, capacity=capacity)
        for c in instance.couriers
    )
    return Day(
        orders, couriers, lambda a, b: 60 * instance.travel(a, b),
        pickup_service_s=instance.pickup_service * 60,
        delivery_service_s=instance.dropoff_service * 60, target_s=instance.target * 60,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Assignment:
    """An instruction: pick up ``orders`` (one restaurant's) and drop them off in this order."""

    courier: str
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Trip:
    """An assignment as carried out; times in minutes."""

    at: int  # when it was sent, and the courier left
    courier: str
    origin: str  # the courier's id (its on-location), an order id or a restaurant id
    restaurant: str
    orders: tuple[str, ...]
    arrive_restaurant: int
    pickup: int
    drop_offs: tuple[int, ...]  # one per order, in sequence
    free_at: int  # when the courier can take its next instruction (leaving the last door)
    driving: int  # minutes on the road


def trip_times(
    instance: Instance, origin: Point, leave: int, restaurant: str, drops: Sequence[MdrpOrder]
) -> tuple[int, int, list[int], int, int]:
    """(arrival at the restaurant, pickup, drop-off times, free-at, driving) of a trip."""
    at_restaurant = instance.restaurants[restaurant]
    arrive = leave + instance.travel(origin, at_restaurant)
    pickup = max(max(o.ready for o in drops), arrive + instance.half_pickup)
    driving = arrive - leave
    depart, here, times = pickup + instance.half_pickup, at_restaurant, []
    for order in drops:
        ride = instance.travel(here, order.point)
        driving += ride
        drop = depart + ride + instance.half_dropoff
        times.append(drop)
        depart, here = drop + instance.half_dropoff, order.point
    return arrive, pickup, times, depart, driving


@dataclass
class CourierState:
    """Where a courier waits (or will wait) for its next instruction, and from when."""

    courier: MdrpCourier
    place: str  # location id: the courier's own id for its on-location, else an order id
    point: Point
    free_at: int
    trips: list[Trip] = field(default_factory=list)


class Dispatch:
    """The day as it unfolds: sends assignments under the official rules, records the trips."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.orders = {o.id: o for o in instance.orders}
        self.couriers = {
            c.id: CourierState(c, c.id, c.point, c.on) for c in instance.couriers
        }  # fmt: skip
        self.assigned: dict[str, str] = {}  # order id -> courier id
        self.trips: list[Trip] = []
        self._by_placement = sorted(instance.orders, key=lambda o: (o.placed, o.id))
        self._revealed = 0
        self._open: dict[str, MdrpOrder] = {}  # placed, not yet assigned

    def waiting(self, now: int) -> list[CourierState]:
        """Couriers who can take an instruction now and still pick up today."""
        return [
            s for s in self.couriers.values()
            if s.free_at <= now and s.courier.on <= now <= s.courier.off
        ]  # fmt: skip

    def send(self, now: int, assignment: Assignment) -> Trip:
        """Send ``assignment`` at ``now``; raise :class:`RuleError` where the rules forbid it."""
        state = self.couriers.get(assignment.courier)
        if state is None:
            raise RuleError(f"unknown courier {assignment.courier}")
        if not assignment.orders:
            raise RuleError("an empty assignment")
        if len(set(assignment.orders)) != len(assignment.orders):
            raise RuleError("an order twice in one assignment")
        drops = []
        for order_id in assignment.orders:
            order = self.orders.get(order_id)
            if order is None:
                raise RuleError(f"unknown order {order_id}")
            if order_id in self.assigned:
                raise RuleError(f"order {order_id} is already assigned")
            if order.placed > now:
                raise RuleError(f"order {order_id} is not placed yet at {now}")
            drops.append(order)
        restaurants = {o.restaurant for o in drops}
        if len(restaurants) != 1:
            raise RuleError("a bundle holds orders of one restaurant only")
        if now < state.courier.on:
            raise RuleError(f"courier {state.courier.id} is not on duty before {state.courier.on}")
        if now < state.free_at:
            raise RuleError(f"courier {state.courier.id} is busy until {state.free_at}")
        (restaurant,) = restaurants
        arrive, pickup, times, free_at, driving = trip_times(
            self.instance, state.point, now, restaurant, drops
        )
        if pickup > state.courier.off:
            raise RuleError(f"courier {state.courier.id} would pick up after its off-time")
        trip = Trip(now, state.courier.id, state.place, restaurant, assignment.orders, arrive,
                    pickup, tuple(times), free_at, driving)  # fmt: skip
        state.place, state.point, state.free_at = drops[-1].id, drops[-1].point, free_at
        state.trips.append(trip)
        self.trips.append(trip)
        for order_id in assignment.orders:
            self.assigned[order_id] = state.courier.id
            self._open.pop(order_id, None)
        return trip

    def open_orders(self, now: int) -> list[MdrpOrder]:
        """Orders placed by ``now`` and not yet assigned, in order of placement."""
        while (
            self._revealed < len(self._by_placement)
            and self._by_placement[self._revealed].placed <= now
        ):
            order = self._by_placement[self._revealed]
            if order.id not in self.assigned:
                self._open[order.id] = order
            self._revealed += 1
        return list(self._open.values())


@dataclass(frozen=True, slots=True)
class PlanStats:
    """What a re-planning policy reports about its plans, beyond the trips themselves."""

    reassignments: int = 0  # times an order's planned courier changed between plans
    eta_changes: tuple[int, ...] = ()  # |change| of an order's planned drop-off between plans


class Policy(Protocol):
    def __call__(self, now: int, dispatch: Dispatch) -> list[Assignment]: ...


@dataclass(frozen=True, slots=True)
class DayResult:
    trips: tuple[Trip, ...]
    decision_s: tuple[float, ...]  # wall seconds of each decision the policy made
    stats: PlanStats


def run_day(
    instance: Instance,
    policy: Policy,
    *,
    cycle: int = 1,
    stats: Callable[[], PlanStats] | None = None,
    on_minute: Callable[[int], None] | None = None,
) -> DayResult:
    """Ask ``policy`` for assignments every ``cycle`` minutes, from the first placement or
    on-time to the last off-time, and send them under the rules."""
    dispatch = Dispatch(instance)
    start = min([o.placed for o in instance.orders] + [c.on for c in instance.couriers])
    end = max(c.off for c in instance.couriers)
    decisions: list[float] = []
    for now in range(start, end + 1, cycle):
        if len(dispatch.assigned) == len(instance.orders):
            break
        if dispatch.open_orders(now):
            began = time.perf_counter()
            assignments = policy(now, dispatch)
            decisions.append(time.perf_counter() - began)
            for assignment in assignments:
                dispatch.send(now, assignment)
        if on_minute is not None:
            on_minute(now)
    return DayResult(tuple(dispatch.trips), tuple(decisions), stats() if stats else PlanStats())


def lower_bound(instance: Instance) -> dict[str, int]:
    """Click-to-door of each order picked up the moment it is ready and ridden straight home."""
    return {
        o.id: o.ready - o.placed + instance.half_pickup
        + instance.travel(instance.restaurants[o.restaurant], o.point) + instance.half_dropoff
        for o in instance.orders
    }  # fmt: skip


def write_solution(instance: Instance, trips: Iterable[Trip], folder: Path) -> None:
    """The three files of the official evaluator (space-separated, a header line each)."""
    folder.mkdir(parents=True, exist_ok=True)
    ordered = sorted(trips, key=lambda t: (t.courier, t.at))
    orders = {o.id: o for o in instance.orders}
    assignments = ["assignment_time pickup_time courier orders"]
    order_lines = ["order placement_time ready_time pickup_time dropoff_time courier"]
    moves = ["courier departure_time origin destination"]
    for trip in sorted(ordered, key=lambda t: (t.at, t.courier)):
        assignments.append(f"{trip.at} {trip.pickup} {trip.courier} {' '.join(trip.orders)}")
        for order_id, drop in zip(trip.orders, trip.drop_offs, strict=True):
            order = orders[order_id]
            order_lines.append(
                f"{order_id} {order.placed} {order.ready} {trip.pickup} {drop} {trip.courier}"
            )
    for trip in ordered:  # each courier's moves in one block, in the order driven
        origin = "0" if trip.origin == trip.courier else trip.origin
        moves.append(f"{trip.courier} {trip.at} {origin} {trip.restaurant}")
        depart, here = trip.pickup + instance.half_pickup, trip.restaurant
        for order_id, drop in zip(trip.orders, trip.drop_offs, strict=True):
            moves.append(f"{trip.courier} {depart} {here} {order_id}")
            depart, here = drop + instance.half_dropoff, order_id
    for name, lines in (("assignments", assignments), ("orders", order_lines),
                        ("couriers", moves)):  # fmt: skip
        (folder / f"solution_info_{name}.txt").write_text("\n".join(lines) + "\n")


@dataclass(frozen=True, slots=True)
class Figures:
    """The paper's performance measures for one day (minutes; shares of all orders)."""

    orders: int
    delivered: int
    undelivered_share: float
    click_to_door_mean: float
    click_to_door_p90: float
    within_target_share: float  # delivered within the target (40 min)
    within_maximum_share: float  # within the maximum (90 min)
    overage_mean: float  # mean minutes past the target, over delivered orders (0 if on time)
    ready_to_pickup_mean: float
    orders_per_courier_hour: float  # delivered orders / courier duty hours
    utilisation: float  # mean over couriers of (driving + service) / duty time
    total_pay: float
    cost_per_order: float  # total pay / delivered orders
    bundle_mean: float
    reassignments_per_order: float
    eta_change_p50: float
    eta_change_p90: float
    decision_max_s: float


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's and pandas' default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def figures(instance: Instance, result: DayResult) -> Figures:
    orders = {o.id: o for o in instance.orders}
    c2d, ready_to_pickup = [], []
    served: dict[str, int] = {c.id: 0 for c in instance.couriers}
    busy: dict[str, int] = {c.id: 0 for c in instance.couriers}
    for trip in result.trips:
        served[trip.courier] += len(trip.orders)
        busy[trip.courier] += trip.driving + instance.pickup_service
        busy[trip.courier] += instance.dropoff_service * len(trip.orders)
        for order_id, drop in zip(trip.orders, trip.drop_offs, strict=True):
            c2d.append(drop - orders[order_id].placed)
            ready_to_pickup.append(trip.pickup - orders[order_id].ready)
    total = len(instance.orders)
    delivered = len(c2d)
    duty = {c.id: c.off - c.on for c in instance.couriers}
    pay = sum(
        max(instance.pay_per_order * served[c], instance.pay_per_hour * duty[c] / 60) for c in duty
    )
    stats = result.stats
    return Figures(
        orders=total,
        delivered=delivered,
        undelivered_share=(total - delivered) / total,
        click_to_door_mean=statistics.fmean(c2d) if c2d else math.nan,
        click_to_door_p90=quantile(c2d, 0.9),
        within_target_share=sum(1 for v in c2d if v <= instance.target) / total,
        within_maximum_share=sum(1 for v in c2d if v <= instance.maximum) / total,
        overage_mean=statistics.fmean(max(0, v - instance.target) for v in c2d) if c2d else 0.0,
        ready_to_pickup_mean=statistics.fmean(ready_to_pickup) if c2d else math.nan,
        orders_per_courier_hour=delivered / (sum(duty.values()) / 60),
        utilisation=statistics.fmean(busy[c] / duty[c] for c in duty),
        total_pay=pay,
        cost_per_order=pay / delivered if delivered else math.inf,
        bundle_mean=delivered / len(result.trips) if result.trips else 0.0,
        reassignments_per_order=stats.reassignments / total,
        eta_change_p50=quantile(stats.eta_changes, 0.5) if stats.eta_changes else 0.0,
        eta_change_p90=quantile(stats.eta_changes, 0.9) if stats.eta_changes else 0.0,
        decision_max_s=max(result.decision_s, default=0.0),
    )


def lower_bound_figures(instance: Instance) -> dict[str, float]:
    """The infinite-fleet bound's click-to-door figures."""
    values = list(lower_bound(instance).values())
    return {
        "click_to_door_mean": statistics.fmean(values),
        "click_to_door_p90": quantile(values, 0.9),
        "within_target_share": sum(1 for v in values if v <= instance.target) / len(values),
    }
