"""A day of deliveries under a simulated clock, driven by the real planner (or a baseline).

Every ``tick`` the policy sees what a dispatcher would see at that moment (orders placed so far,
each courier's position, when it is free and what it carries) and returns each courier's stops.
Couriers then follow their stops until the next tick; the stop a courier is already heading to
is finished even if it runs past the tick, so a re-plan never turns a courier around mid-ride.
Pure: no Redis, no wall clock; travel comes from an injected function.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dispatch.planner import CourierState, OpenOrder, plan_dispatch
from geo.travel import LatLng

# A place in the day's own coordinates: (lat, lng) on a city's day, metres on an MDRP day; the
# day's travel_s is the only thing that reads it.
Point = tuple[float, float]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # simulated seconds are counted from here


@dataclass(frozen=True, slots=True)
class SimOrder:
    id: str
    placed_at: int  # simulated seconds
    ready_at: int
    store: Point
    customer: Point


@dataclass(frozen=True, slots=True)
class SimCourier:
    id: str
    start: Point
    on_at: int
    off_at: int
    capacity: int = 2


@dataclass(frozen=True, slots=True)
class Day:
    """Everything a simulated day needs; ``travel_s`` gives whole seconds between two points."""

    orders: tuple[SimOrder, ...]
    couriers: tuple[SimCourier, ...]
    travel_s: Callable[[Point, Point], int]
    pickup_service_s: int
    delivery_service_s: int
    target_s: int  # click-to-door target (MDRP: 40 min; ours: 60 min)


@dataclass(frozen=True, slots=True)
class Stop:
    order_id: str
    kind: str  # pickup | delivery


Policy = Callable[[int, Sequence[SimOrder], Mapping[str, "CourierNow"], Day], dict[str, list[Stop]]]


@dataclass
class CourierNow:
    """A courier's state during the simulation."""

    courier: SimCourier
    position: Point
    free_at: int
    carrying: set[str] = field(default_factory=set)
    busy_s: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The plan at one moment: each busy courier's path ahead, and the orders still waiting."""

    at: int
    paths: dict[str, tuple[Point, ...]]  # courier id -> its position, then its planned stops
    waiting: tuple[SimOrder, ...]  # placed, not yet picked up


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered_at: dict[str, int]
    picked_at: dict[str, int]
    courier_busy_s: dict[str, int]
    longest_plan_s: float
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    orders: int
    delivered: int
    on_time_share: float
    mean_click_to_door_min: float
    p90_click_to_door_min: float
    orders_per_courier_hour: float
    utilisation: float
    longest_plan_s: float


def simulate(
    day: Day,
    policy: Policy,
    *,
    tick_s: int = 60,
    until: int | None = None,
    snapshot_at: int | None = None,
    on_tick: Callable[[int], None] | None = None,
) -> Outcome:
    """Run the day tick by tick until every order is delivered (or ``until``).

    ``snapshot_at``: keep the plan of the first tick at or after that moment (for a map).
    ``on_tick``: called with the simulated clock after every tick (a progress bar).
    """
    states = {c.id: CourierNow(c, c.start, c.on_at) for c in day.couriers}
    by_id = {o.id: o for o in day.orders}
    delivered: dict[str, int] = {}
    picked: dict[str, int] = {}
    end = until if until is not None else max(c.off_at for c in day.couriers) + 4 * 3600
    clock = min([o.placed_at for o in day.orders] + [c.on_at for c in day.couriers])
    longest = 0.0
    snapshot: Snapshot | None = None
    while clock <= end and len(delivered) < len(day.orders):
        visible = [o for o in day.orders if o.placed_at <= clock and o.id not in delivered]
        if visible:
            started = time.perf_counter()
            plan = policy(clock, visible, states, day)
            longest = max(longest, time.perf_counter() - started)
            if snapshot is None and snapshot_at is not None and clock >= snapshot_at:
                snapshot = _snapshot(clock, plan, states, visible, by_id, picked)
            for courier_id, stops in plan.items():
                _follow(states[courier_id], stops, by_id, day, clock + tick_s, picked, delivered)
        clock += tick_s
        if on_tick is not None:
            on_tick(clock)
    busy = {cid: s.busy_s for cid, s in states.items()}
    return Outcome(delivered, picked, busy, longest, snapshot)


def _snapshot(
    clock: int,
    plan: Mapping[str, Sequence[Stop]],
    states: Mapping[str, CourierNow],
    visible: Sequence[SimOrder],
    orders: Mapping[str, SimOrder],
    picked: Mapping[str, int],
) -> Snapshot:
    paths = {
        courier_id: (states[courier_id].position, *(
            orders[s.order_id].store if s.kind == "pickup" else orders[s.order_id].customer
            for s in stops
        ))
        for courier_id, stops in plan.items()
        if stops
    }  # fmt: skip
    return Snapshot(clock, paths, tuple(o for o in visible if o.id not in picked))


def _follow(
    state: CourierNow,
    stops: Sequence[Stop],
    orders: Mapping[str, SimOrder],
    day: Day,
    horizon: int,
    picked: dict[str, int],
    delivered: dict[str, int],
) -> None:
    """Carry out the stops the courier sets off for before ``horizon``.

    A courier leaves for a pickup just in time to arrive when the order is ready, not earlier:
    waiting at the counter would tie it up while a re-plan might have better use for it.
    """
    for stop in stops:
        order = orders[stop.order_id]
        target = order.store if stop.kind == "pickup" else order.customer
        ride = day.travel_s(state.position, target)
        depart = state.free_at
        if stop.kind == "pickup":
            depart = max(depart, order.ready_at - ride)
        if depart >= horizon:
            return
        arrive = depart + ride
        if stop.kind == "pickup":
            begin = max(arrive, order.ready_at)
            done = begin + day.pickup_service_s
            picked[order.id] = begin
            state.carrying.add(order.id)
        else:
            begin = arrive
            done = begin + day.delivery_service_s
            delivered[order.id] = done
            state.carrying.discard(order.id)
        state.busy_s += done - depart
        state.position, state.free_at = target, done


def planner_policy(*, time_limit_s: float = 1.0, margin_s: int = 0, wait_cost: int = 0) -> Policy:
    """The service's own planner (OR-Tools), re-planning every tick from what is known,
    starting from the plan it made last."""
    last: dict[str, list[tuple[str, str]]] = {}

    def policy(
        now: int, orders: Sequence[SimOrder], states: Mapping[str, CourierNow], day: Day
    ) -> dict[str, list[Stop]]:
        at = EPOCH + timedelta(seconds=now)
        couriers = [
            CourierState(s.courier.id, s.position, "sim", s.courier.capacity,
                         shift_end=EPOCH + timedelta(seconds=s.courier.off_at),
                         available_at=EPOCH + timedelta(seconds=max(now, s.free_at)))
            for s in states.values()
            if s.courier.on_at <= now and (now < s.courier.off_at or s.carrying)
        ]  # fmt: skip
        carried_by = {o: s.courier.id for s in states.values() for o in s.carrying}
        open_orders = [
            OpenOrder(o.id, o.store, o.customer,
                      ready_at=EPOCH + timedelta(seconds=o.ready_at),
                      promised_by=EPOCH + timedelta(seconds=o.placed_at + day.target_s),
                      picked_up_by=carried_by.get(o.id),
                      pickup_service_s=day.pickup_service_s,
                      delivery_service_s=day.delivery_service_s)
            for o in orders
        ]  # fmt: skip
        plan = plan_dispatch(
            open_orders, couriers, now=at, travel=_SimTravel(day.travel_s),
            time_limit_s=time_limit_s, margin_s=margin_s, wait_cost=wait_cost, previous=last,
        )  # fmt: skip
        last.clear()
        last.update({r.courier_id: [(s.order_id, s.kind) for s in r.stops] for r in plan.routes})
        return {
            route.courier_id: [Stop(s.order_id, s.kind) for s in route.stops]
            for route in plan.routes
        }

    return policy


def greedy_policy(
    now: int, orders: Sequence[SimOrder], states: Mapping[str, CourierNow], day: Day
) -> dict[str, list[Stop]]:
    """Baseline: each ready order, oldest first, to the nearest idle courier, one at a time."""
    idle = [
        s for s in states.values()
        if s.courier.on_at <= now < s.courier.off_at and s.free_at <= now and not s.carrying
    ]  # fmt: skip
    taken = {o for s in states.values() for o in s.carrying}
    plan: dict[str, list[Stop]] = {}
    for order in sorted(orders, key=lambda o: o.ready_at):
        if order.id in taken or order.ready_at > now or not idle:
            continue
        nearest = min(idle, key=lambda s: (day.travel_s(s.position, order.store), s.courier.id))
        idle.remove(nearest)
        plan[nearest.courier.id] = [Stop(order.id, "pickup"), Stop(order.id, "delivery")]
    for state in states.values():  # whoever carries an order delivers it
        if state.carrying and state.courier.id not in plan:
            plan[state.courier.id] = [Stop(o, "delivery") for o in sorted(state.carrying)]
    return plan


def lower_bound_click_to_door(day: Day) -> dict[str, int]:
    """Each order picked up the moment it is ready and ridden straight to the door."""
    return {
        o.id: o.ready_at - o.placed_at + day.pickup_service_s
        + day.travel_s(o.store, o.customer) + day.delivery_service_s
        for o in day.orders
    }  # fmt: skip


def figures(day: Day, outcome: Outcome) -> Figures:
    """The KPIs of a simulated day."""
    c2d = [
        outcome.delivered_at[o.id] - o.placed_at for o in day.orders if o.id in outcome.delivered_at
    ]
    hours = sum(c.off_at - c.on_at for c in day.couriers) / 3600
    busy = sum(outcome.courier_busy_s.values())
    return Figures(
        orders=len(day.orders),
        delivered=len(c2d),
        on_time_share=sum(1 for v in c2d if v <= day.target_s) / max(1, len(day.orders)),
        mean_click_to_door_min=statistics.mean(c2d) / 60 if c2d else math.nan,
        p90_click_to_door_min=_p90(c2d) / 60 if c2d else math.nan,
        orders_per_courier_hour=len(c2d) / hours if hours else 0.0,
        utilisation=busy / (hours * 3600) if hours else 0.0,
        longest_plan_s=outcome.longest_plan_s,
    )


def _p90(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)])


class _SimTravel:
    """The day's travel rule as a :class:`TravelModel` (the same time for every vehicle)."""

    def __init__(self, travel_s: Callable[[Point, Point], int]) -> None:
        self._travel_s = travel_s

    def seconds(self, a: LatLng, b: LatLng, *, vehicle: str) -> float:
        return float(self._travel_s(a, b))

    def matrix_seconds(self, points: Sequence[LatLng], *, vehicle: str) -> list[list[int]]:
        return [[self._travel_s(a, b) for b in points] for a in points]

    def path(self, a: LatLng, b: LatLng, *, vehicle: str) -> list[LatLng]:
        return [a, b]
