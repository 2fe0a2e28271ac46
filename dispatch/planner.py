"""The dispatch planner: open orders and couriers in, each courier's ordered stops out.

This is the bridge from the domain (positions, clock times, vehicles) to the routing adapter
(node indexes, whole seconds from now, a travel matrix per vehicle). It does no I/O: the worker
gives it a snapshot and stores what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.routing import Courier, RoutingProblem, SolveOptions, Task, solve
from geo.travel import LatLng, TravelModel

# A courier whose shift is over still finishes the orders on board: give it this long to do so.
OVERTIME = timedelta(hours=1)


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


def plan_dispatch(
    orders: Sequence[OpenOrder],
    couriers: Sequence[CourierState],
    *,
    now: datetime,
    travel: TravelModel,
    time_limit_s: float = 2.0,
    margin_s: int = 0,
    wait_cost: int = 0,
) -> DispatchPlan:
    """Assign and sequence every open order: lateness first, travel time second.

    ``margin_s`` plans against promises that many seconds earlier than made, a buffer against
    the orders still to come; lateness is still reported against the real promise.
    ``wait_cost`` (per second an order waits at the store once ready) makes prompt pick-ups
    worth travel.
    """
    points: dict[LatLng, int] = {}

    def node(position: LatLng) -> int:
        return points.setdefault(position, len(points))

    def seconds(moment: datetime) -> int:
        return max(0, round((moment - now).total_seconds()))

    carrying = {o.picked_up_by for o in orders if o.picked_up_by is not None}
    fleet = []
    for courier in couriers:
        free_at = max(now, courier.available_at or now)
        shift_end = courier.shift_end
        if courier.id in carrying:
            shift_end = max(shift_end, free_at + OVERTIME)
        if shift_end <= free_at:
            continue  # off shift (or only free after it) and carrying nothing
        fleet.append(
            Courier(
                courier.id,
                start=node(courier.position),
                available_at=seconds(free_at),
                shift_end=seconds(shift_end),
                capacity=courier.capacity,
                profile=courier.vehicle,
            )
        )
    known = {c.id for c in fleet}
    tasks = []
    unassigned: dict[str, str] = {}
    for order in orders:
        owner = order.picked_up_by or order.pinned_to
        if owner is not None and owner not in known:
            unassigned[order.id] = f"its courier {owner} is not on shift"
            continue
        tasks.append(
            Task(
                order.id,
                pickup=None if order.picked_up_by else node(order.store),
                delivery=node(order.customer),
                ready=seconds(order.ready_at),
                due=seconds(order.promised_by - timedelta(seconds=margin_s)),
                size=order.size,
                pickup_service=order.pickup_service_s,
                delivery_service=order.delivery_service_s,
                courier=owner,
            )
        )
    positions = list(points)
    vehicles = sorted({c.profile for c in fleet if c.profile is not None})
    profiles = {v: travel.matrix_seconds(positions, vehicle=v) for v in vehicles}
    default = next(iter(profiles.values()), [[0] * len(positions) for _ in positions])
    problem = RoutingProblem(default, tuple(tasks), tuple(fleet), profiles=profiles)
    plan = solve(problem, SolveOptions(time_limit_s=time_limit_s, wait_cost=wait_cost))
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
