"""The dispatch planner: open orders and couriers in, each courier's ordered stops out.

This is the bridge from the domain (positions, clock times, vehicles) to the routing adapter
(node indexes, whole seconds from now, a travel matrix per vehicle). It does no I/O: the worker
gives it a snapshot and stores what it returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from dispatch.routing import (
    Courier,
    RouteHint,
    RoutingProblem,
    SolveOptions,
    Task,
    delivery_start_alone,
    solve_promises,
)
from geo.travel import LatLng, TravelModel

# A courier whose shift is over still finishes the orders on board: give it this long to do so.
OVERTIME = timedelta(hours=1)
# An estimated arrival moved more than a minute from the plan in force costs this a second
# (travel costs 1, lateness 1,000; a promise kept outweighs all): the arrivals a shopper is
# shown and a courier's next stop stay put unless the gain is clear.
STEADY_COST = 20
STEADY_WITHIN_S = 60


@dataclass(frozen=True, slots=True)
class CourierState:
    """A courier as the planner sees it: where it is (or the stop it is heading to)."""

    id: str
    position: LatLng
    vehicle: str
    capacity: int
    shift_end: datetime
    available_at: datetime | None = None  # None: now


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An accepted order still to deliver."""

    id: str
    store: LatLng
    customer: LatLng
    ready_at: datetime  # when the store will have it packed
    promised_by: datetime
    size: int = 1
    picked_up_by: str | None = None  # on board: only this courier can deliver it
    pinned_to: str | None = None  # a dispatcher's choice, kept by every re-plan
    pickup_service_s: int = 60
    delivery_service_s: int = 120
    deliver_from: datetime | None = None  # a scheduled order's window opens: not at the door before


@dataclass(frozen=True, slots=True)
class PlannedStop:
    order_id: str
    kind: str  # pickup | delivery
    position: LatLng
    arrive_at: datetime
    start_at: datetime
    depart_at: datetime
    late_s: int  # past promised_by (deliveries)


@dataclass(frozen=True, slots=True)
class CourierRoute:
    courier_id: str
    stops: tuple[PlannedStop, ...]


@dataclass(frozen=True, slots=True)
class DispatchPlan:
    planned_at: datetime
    routes: tuple[CourierRoute, ...]
    unassigned: Mapping[str, str] = field(default_factory=dict)  # order id -> reason
    solve_s: float = 0.0

    @property
    def on_time(self) -> int:
        """Orders planned to arrive by their promise."""
        return sum(1 for r in self.routes for s in r.stops if s.kind == "delivery" and not s.late_s)

    @property
    def late(self) -> int:
        """Orders planned to arrive after their promise (left-out ones are in ``unassigned``)."""
        return len(self.late_orders)

    @property
    def late_minutes(self) -> float:
        """Minutes past the promise, summed over the late orders."""
        return sum(self.late_orders.values()) / 60

    @property
    def late_orders(self) -> dict[str, int]:
        """Order id -> seconds past its promise, for every order planned to arrive late."""
        return {
            stop.order_id: stop.late_s
            for route in self.routes
            for stop in route.stops
            if stop.kind == "delivery" and stop.late_s > 0
        }


def _late_s(start: datetime, promised_by: datetime, *, kind: str) -> int:
    if kind != "delivery":
        return 0
    return max(0, round((start - promised_by).total_seconds()))


def _routing_courier(
    courier: CourierState, node: Callable[[LatLng], int], seconds: Callable[[datetime], int],
    *, now: datetime, carrying: bool,
) -> Courier | None:  # fmt: skip
    """The courier as the solver takes it; None when it is off shift and carries nothing.

    A courier with goods on board gets ``OVERTIME`` to deliver them, but no new orders once its
    shift is over."""
    free_at = max(now, courier.available_at or now)
    shift_end = courier.shift_end
    if carrying:
        shift_end = max(shift_end, free_at + OVERTIME)
    if shift_end <= free_at:
        return None
    return Courier(
        courier.id, start=node(courier.position), available_at=seconds(free_at),
        shift_end=seconds(shift_end), capacity=courier.capacity, profile=courier.vehicle,
        takes_new=courier.shift_end > free_at,
    )  # fmt: skip


def _routing_task(
    order: OpenOrder, node: Callable[[LatLng], int], seconds: Callable[[datetime], int],
    *, margin_s: int,
) -> Task:  # fmt: skip
    return Task(
        order.id, pickup=None if order.picked_up_by else node(order.store),
        delivery=node(order.customer), ready=seconds(order.ready_at),
        due=seconds(order.promised_by - timedelta(seconds=margin_s)), size=order.size,
        pickup_service=order.pickup_service_s, delivery_service=order.delivery_service_s,
        courier=order.picked_up_by or order.pinned_to,
        delivery_ready=0 if order.deliver_from is None else seconds(order.deliver_from),
        promise=seconds(order.promised_by) if margin_s else None,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PinRefusal:
    """Why an order cannot be pinned to a courier: ``code`` capacity, after_shift or late."""

    code: str
    message: str
    earliest_delivery: datetime
    deliver_by: datetime  # the promise (late) or the courier's end of work (after_shift)


def pin_refusal(
    order: OpenOrder, courier: CourierState, *, now: datetime, travel: TravelModel,
    carrying: bool, allow_late: bool = False, zone: tzinfo = UTC,
) -> PinRefusal | None:  # fmt: skip
    """Whether the planner could give this order to this courier, and if not why, by the
    planner's own rules and travel model: the courier going there first, with nothing else to
    do (its other orders can only make it later). ``allow_late`` accepts a late delivery.
    The message gives clock times in ``zone`` (the dispatcher reads the store's time)."""
    points: dict[LatLng, int] = {}

    def clock(moment: datetime) -> str:
        return f"{moment.astimezone(zone):%H:%M} {getattr(zone, 'key', 'UTC')}"

    def node(position: LatLng) -> int:
        return points.setdefault(position, len(points))

    def seconds(moment: datetime) -> int:
        return max(0, round((moment - now).total_seconds()))

    def at(offset: int) -> datetime:
        return now + timedelta(seconds=offset)

    vehicle = _routing_courier(courier, node, seconds, now=now, carrying=carrying)
    task = _routing_task(replace(order, pinned_to=courier.id), node, seconds, margin_s=0)
    if vehicle is None:
        message = f"courier {courier.id}'s shift is over"
        return PinRefusal("after_shift", message, now, courier.shift_end)
    if courier.capacity < order.size:
        message = f"courier {courier.id} carries at most {courier.capacity} (it needs {order.size})"
        return PinRefusal("capacity", message, now, courier.shift_end)
    matrix = travel.matrix_seconds(list(points), vehicle=courier.vehicle)
    start = at(delivery_start_alone(matrix, vehicle, task))
    work_ends = at(vehicle.shift_end)
    if start + timedelta(seconds=order.delivery_service_s) > work_ends:
        message = (
            f"courier {courier.id} ({courier.vehicle}) could deliver at {clock(start)} at the "
            f"earliest, after their shift ends at {clock(work_ends)}"
        )
        return PinRefusal("after_shift", message, start, work_ends)
    if start > order.promised_by and not allow_late:
        late_min = math.ceil((start - order.promised_by).total_seconds() / 60)
        message = (
            f"courier {courier.id} ({courier.vehicle}) could deliver at {clock(start)} at the "
            f"earliest, {late_min} min after the promise; send allow_late to pin anyway"
        )
        return PinRefusal("late", message, start, order.promised_by)
    return None


def plan_dispatch(
    orders: Sequence[OpenOrder],
    couriers: Sequence[CourierState],
    *,
    now: datetime,
    travel: TravelModel,
    time_limit_s: float = 2.0,
    margin_s: int = 0,
    wait_cost: int = 0,
    previous: RouteHint | None = None,
) -> DispatchPlan:
    """Assign and sequence every open order: lateness first, travel time second.

    ``margin_s`` plans against promises that many seconds earlier than made, a buffer against
    the orders still to come; lateness is still reported against the real promise.
    ``wait_cost`` (per second an order waits at the store once ready) makes prompt pick-ups
    worth travel. ``previous`` (each courier's stops in the plan in force, as order id and
    kind) is where the search starts: the promises it keeps are not given up lightly, and
    the arrivals it tells move (``STEADY_COST``) and its orders change courier only for a
    promise kept or a clear gain.
    """
    points: dict[LatLng, int] = {}

    def node(position: LatLng) -> int:
        return points.setdefault(position, len(points))

    def seconds(moment: datetime) -> int:
        return max(0, round((moment - now).total_seconds()))

    carrying = {o.picked_up_by for o in orders if o.picked_up_by is not None}
    fleet = []
    for courier in couriers:
        vehicle = _routing_courier(courier, node, seconds, now=now, carrying=courier.id in carrying)
        if vehicle is not None:
            fleet.append(vehicle)
    known = {c.id for c in fleet}
    tasks = []
    unassigned: dict[str, str] = {}
    for order in orders:
        owner = order.picked_up_by or order.pinned_to
        if owner is not None and owner not in known:
            how = "on board courier" if order.picked_up_by else "pinned to courier"
            unassigned[order.id] = f"{how} {owner}, who is not on shift"
            continue
        tasks.append(_routing_task(order, node, seconds, margin_s=margin_s))
    positions = list(points)
    vehicles = sorted({c.profile for c in fleet if c.profile is not None})
    profiles = {v: travel.matrix_seconds(positions, vehicle=v) for v in vehicles}
    default = next(iter(profiles.values()), [[0] * len(positions) for _ in positions])
    problem = RoutingProblem(default, tuple(tasks), tuple(fleet), profiles=profiles)
    options = SolveOptions(time_limit_s=time_limit_s, wait_cost=wait_cost,
                           steady_cost=STEADY_COST, steady_within=STEADY_WITHIN_S)  # fmt: skip
    plan = solve_promises(problem, options, hint=previous)
    promised = {o.id: o.promised_by for o in orders}

    def at(offset: int) -> datetime:
        return now + timedelta(seconds=offset)

    routes = tuple(
        CourierRoute(
            route.courier_id,
            tuple(
                PlannedStop(
                    visit.task_id,
                    visit.kind,
                    positions[visit.node],
                    at(visit.arrival),
                    at(visit.start),
                    at(visit.departure),
                    late_s=_late_s(at(visit.start), promised[visit.task_id], kind=visit.kind),
                )
                for visit in route.visits
            ),
        )
        for route in plan.routes
    )
    return DispatchPlan(now, routes, unassigned | dict(plan.unassigned), plan.solve_s)
