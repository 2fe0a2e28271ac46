"""Couriers, pins and dispatch plans in Redis (the I/O edge of dispatch planning).

Keys: ``couriers`` (hash id -> JSON), ``courier-positions`` (hash id -> last ping JSON),
``pins`` (hash order id -> courier id: a dispatcher's manual assignment), and the plan: one
JSON per dispatch region (``plan:{region}``, see :mod:`dispatch.regions`), the set of regions
with a plan, and ``plan:version``, counting every plan written; readers see the regions' plans
merged into one. In each order home (see :mod:`dispatch.order_store`), written with the order's
status: ``carried:{home}`` (order id -> the courier that picked it up, from its phone) and
``courier-events:{home}:<courier>`` (the phone's event id -> the answer given).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from dispatch import order_store
from dispatch.planner import CourierState, DispatchPlan, OpenOrder
from dispatch.regions import ALL, region_of
from dispatch.schedule import due_for_planning
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.replies import decoded, text_hash
from geo.stores import Store
from geo.travel import VEHICLE_SPEEDS_MPS

COURIERS_KEY = "couriers"
POSITIONS_KEY = "courier-positions"
PINS_KEY = "pins"
PLAN_VERSION_KEY = "plan:version"
PLAN_REGIONS_KEY = "plan:regions"
SHIFT_LOOKAHEAD = timedelta(minutes=30)  # a courier starting this soon is planned already
MAX_SPEED_MPS = 50.0  # 180 km/h: a ping implying more is a bad fix, not a courier
MAX_SHIFT = timedelta(hours=16)  # a shift added for another day; longer is a typing slip
SHIFT_HORIZON = timedelta(days=14)  # how far ahead shifts may be added
MAX_SHIFTS = 30  # shifts a courier may have ahead, besides the registered one
KEEP_PAST_SHIFTS = timedelta(days=7)  # shifts ended longer ago are dropped when shifts change


def courier_events_key(courier_id: str, order_id: str) -> str:
    """Hash of client event id -> the answer given, so a resent event is applied once; in the
    order's home, so the answer is written with the status change it records."""
    return f"courier-events:{{{order_store.region_of_order(order_id)}}}:{courier_id}"


def carried_key(home: str) -> str:
    """Hash of order id -> the courier that picked it up, for the orders of ``home``."""
    return f"carried:{{{home}}}"


def carriers(client: redis.Redis) -> dict[str, str]:
    pipe = client.pipeline(transaction=False)
    for home in order_keys.order_regions(client):
        pipe.hgetall(carried_key(home))
    return {k: v for raw in pipe.execute() for k, v in text_hash(raw).items()}


def courier_orders(client: redis.Redis, courier_id: str) -> set[str]:
    """The orders that are this courier's business: planned for it, pinned to it, or on board."""
    plan = current_plan(client) or {"routes": []}
    mine = {s["order_id"] for r in plan["routes"] if r["courier_id"] == courier_id
            for s in r["stops"]}  # fmt: skip
    mine |= {o for o, c in pins(client).items() if c == courier_id}
    mine |= {o for o, c in carriers(client).items() if c == courier_id}
    return mine


@dataclass(frozen=True, slots=True)
class Shift:
    """A stretch of work; its id is its start in UTC (``20261122T0100Z``), unique per courier
    since a courier's shifts never overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            msg = "a shift must end after it starts"
            raise ValueError(msg)

    @property
    def id(self) -> str:
        return self.start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")

    def overlaps(self, other: Shift) -> bool:
        return self.start < other.end and other.start < self.end

    def to_record(self) -> dict[str, str]:
        return {"id": self.id, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True, slots=True)
class CourierProfile:
    """A registered courier: vehicle, capacity, shift and where the shift starts; shifts added
    for other days; whether it is active (a deactivated courier is kept for history and never
    planned)."""

    id: str
    name: str
    vehicle: str
    capacity: int
    shift_start: datetime
    shift_end: datetime
    home_lat: float
    home_lng: float
    extra_shifts: tuple[Shift, ...] = ()  # other days' shifts, never overlapping any other
    active: bool = True
    deactivated_at: datetime | None = None
    deactivation_reason: str = ""

    def __post_init__(self) -> None:
        if self.vehicle not in VEHICLE_SPEEDS_MPS:
            msg = f"vehicle must be one of {', '.join(VEHICLE_SPEEDS_MPS)}"
            raise ValueError(msg)
        if not 1 <= self.capacity <= 20:
            msg = "capacity must be 1 to 20 orders"
            raise ValueError(msg)
        if self.shift_end <= self.shift_start:
            msg = "shift_end must be after shift_start"
            raise ValueError(msg)
        shifts = self.shifts
        if any(a.overlaps(b) for a, b in itertools.pairwise(shifts)):
            msg = "a courier's shifts must not overlap"
            raise ValueError(msg)

    @property
    def shifts(self) -> tuple[Shift, ...]:
        """Every shift, the registered one too, in time order."""
        registered = Shift(self.shift_start, self.shift_end)
        return tuple(sorted((registered, *self.extra_shifts), key=lambda s: s.start))

    def shift_around(self, now: datetime, *, carrying: bool = False) -> Shift | None:
        """The shift the planner takes this courier in now: the one in progress or starting
        within ``SHIFT_LOOKAHEAD``; with goods on board, else the last one begun (overtime)."""
        soon = now + SHIFT_LOOKAHEAD
        for shift in self.shifts:
            if shift.start <= soon and now < shift.end:
                return shift
        begun = [shift for shift in self.shifts if shift.start <= soon]
        return begun[-1] if carrying and begun else None

    def to_record(self) -> dict[str, Any]:
        deactivated = None if self.deactivated_at is None else self.deactivated_at.isoformat()
        return {
            "id": self.id, "name": self.name, "vehicle": self.vehicle, "capacity": self.capacity,
            "shift_start": self.shift_start.isoformat(), "shift_end": self.shift_end.isoformat(),
            "home": {"lat": self.home_lat, "lng": self.home_lng},
            "shifts": [shift.to_record() for shift in self.shifts],
            "active": self.active, "deactivated_at": deactivated,
            "deactivation_reason": self.deactivation_reason,
        }  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CourierProfile:
        start, end = record["shift_start"], record["shift_end"]
        extra = tuple(
            Shift(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
            for s in record.get("shifts", ())
            if (s["start"], s["end"]) != (start, end)
        )
        deactivated = record.get("deactivated_at")
        return cls(
            record["id"], record["name"], record["vehicle"], record["capacity"],
            datetime.fromisoformat(start), datetime.fromisoformat(end),
            record["home"]["lat"], record["home"]["lng"],
            extra_shifts=extra, active=record.get("active", True),
            deactivated_at=None if deactivated is None else datetime.fromisoformat(deactivated),
            deactivation_reason=record.get("deactivation_reason", ""),
        )  # fmt: skip


def save_courier(client: redis.Redis, courier: CourierProfile) -> None:
    client.hset(COURIERS_KEY, courier.id, json.dumps(courier.to_record(), ensure_ascii=False))


def load_couriers(client: redis.Redis) -> list[CourierProfile]:
    raw: Any = client.hgetall(COURIERS_KEY)
    return sorted(
        (CourierProfile.from_record(json.loads(v)) for v in raw.values()), key=lambda c: c.id
    )


def load_courier(client: redis.Redis, courier_id: str) -> CourierProfile | None:
    raw: Any = client.hget(COURIERS_KEY, courier_id)
    return None if raw is None else CourierProfile.from_record(json.loads(raw))


def registered(courier: CourierProfile, previous: CourierProfile | None) -> CourierProfile:
    """A courier registered again keeps what registration does not set: whether it is active
    and its other days' shifts (those the new registered shift overlaps give way to it)."""
    if previous is None:
        return courier
    shift = Shift(courier.shift_start, courier.shift_end)
    kept = tuple(s for s in previous.shifts if not s.overlaps(shift)
                 and (s.start, s.end) != (previous.shift_start, previous.shift_end))  # fmt: skip
    return replace(courier, extra_shifts=kept, active=previous.active,
                   deactivated_at=previous.deactivated_at,
                   deactivation_reason=previous.deactivation_reason)  # fmt: skip


class ShiftOverlapError(ValueError):
    def __init__(self, shift: Shift) -> None:
        super().__init__(f"overlaps shift {shift.id} ({shift.start.isoformat()} to "
                         f"{shift.end.isoformat()})")  # fmt: skip
        self.shift = shift


def with_shift(courier: CourierProfile, shift: Shift, *, now: datetime) -> CourierProfile:
    """The courier with one more shift; shifts that ended a week ago are dropped. Raises
    :class:`ShiftOverlapError` for a shift overlapping one it has."""
    clash = next((s for s in courier.shifts if s.overlaps(shift)), None)
    if clash is not None:
        raise ShiftOverlapError(clash)
    kept = tuple(s for s in courier.extra_shifts if s.end > now - KEEP_PAST_SHIFTS)
    return replace(courier, extra_shifts=(*kept, shift))


def change_courier(
    client: redis.Redis, courier_id: str, change: Callable[[CourierProfile], CourierProfile]
) -> CourierProfile | None:
    """Apply ``change`` to the stored courier atomically (retried if another write came first);
    None if there is no such courier. ``change`` may raise to refuse: nothing is written."""
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(COURIERS_KEY)  # type: ignore[no-untyped-call]
                raw: Any = pipe.hget(COURIERS_KEY, courier_id)
                if raw is None:
                    return None
                courier = change(CourierProfile.from_record(json.loads(raw)))
                pipe.multi()
                pipe.hset(COURIERS_KEY, courier_id,
                          json.dumps(courier.to_record(), ensure_ascii=False))  # fmt: skip
                pipe.execute()
                return courier
            except redis.WatchError:
                continue


def carried_by(client: redis.Redis, courier_id: str) -> list[str]:
    """The open orders this courier has picked up and not yet delivered."""
    on_board = {o for o, c in carriers(client).items() if c == courier_id}
    return sorted(order.id for order in stored_orders.open_orders(client)
                  if order.id in on_board and order.status == "picked_up")  # fmt: skip


def release_courier(client: redis.Redis, courier_id: str, *, reason: str) -> list[str]:
    """Take a courier out of the plan in force at once: its pins are dropped and its planned
    orders become unassigned with ``reason`` until the next plan gives them to others; the
    orders released, in id order."""
    released = {o for o, c in pins(client).items() if c == courier_id}
    for order_id in released:
        set_pin(client, order_id, None)
    for region, record in region_plans(client).items():
        route = next((r for r in record["routes"] if r["courier_id"] == courier_id), None)
        if route is None:
            continue
        orders = {s["order_id"] for s in route["stops"]}
        released |= orders
        record["routes"] = [r for r in record["routes"] if r["courier_id"] != courier_id]
        record["unassigned"] = record["unassigned"] | dict.fromkeys(sorted(orders), reason)
        record["late_orders"] = {k: v for k, v in record["late_orders"].items()
                                 if k not in orders}  # fmt: skip
        record["version"] = int(client.incr(PLAN_VERSION_KEY))  # type: ignore[arg-type]
        client.set(plan_key(region), json.dumps(record, ensure_ascii=False))
    return sorted(released)


def record_position(
    client: redis.Redis, courier_id: str, lat: float, lng: float, at: datetime
) -> None:
    ping = {"lat": lat, "lng": lng, "at": at.isoformat()}
    client.hset(POSITIONS_KEY, courier_id, json.dumps(ping))


def positions(client: redis.Redis) -> dict[str, dict[str, Any]]:
    raw: Any = client.hgetall(POSITIONS_KEY)
    return {decoded(k): json.loads(v) for k, v in raw.items()}


def set_pin(client: redis.Redis, order_id: str, courier_id: str | None) -> bool:
    """Pin an order to a courier (kept by every re-plan), or unpin it with None; False when
    there was no pin to remove."""
    if courier_id is None:
        return bool(client.hdel(PINS_KEY, order_id))
    client.hset(PINS_KEY, order_id, courier_id)
    return True


def pins(client: redis.Redis) -> dict[str, str]:
    return text_hash(client.hgetall(PINS_KEY))


def plan_key(region: str) -> str:
    return f"plan:{{{region}}}"


def region_plans(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Each planned region's latest plan record, by region."""
    names = sorted(planned_regions(client))
    raws = order_keys.get_many(client, [plan_key(name) for name in names])
    return {name: json.loads(raw) for name, raw in zip(names, raws, strict=True) if raw}


def current_plan(client: redis.Redis) -> dict[str, Any] | None:
    """Every region's latest plan, merged; ``version`` counts all plans written so far."""
    records = region_plans(client)
    if not records:
        return None
    version: Any = client.get(PLAN_VERSION_KEY)
    parts = list(records.values())
    return {
        "version": int(version or 0),
        "planned_at": min(p["planned_at"] for p in parts),  # the oldest region's plan
        "solve_s": max(p["solve_s"] for p in parts),
        "routes": [route for p in parts for route in p["routes"]],
        "unassigned": {k: v for p in parts for k, v in p["unassigned"].items()},
        "late_orders": {k: v for p in parts for k, v in p["late_orders"].items()},
        "on_time": sum(p.get("on_time", 0) for p in parts),
        "late": sum(p.get("late", 0) for p in parts),
        "late_minutes": round(sum(p.get("late_minutes", 0.0) for p in parts), 1),
        "regions": {
            name: {"version": p["version"], "planned_by": p.get("planned_by")}
            for name, p in records.items()
        },
    }


def save_plan(
    client: redis.Redis, plan: DispatchPlan, region: str = ALL, *, planned_by: str | None = None
) -> dict[str, Any]:
    """Store a region's plan under the next version; its record.

    The region is listed before its plan is written (readers skip a listed region with no plan),
    so the keys may sit in different Redis Cluster slots.
    """
    version = int(client.incr(PLAN_VERSION_KEY))  # type: ignore[arg-type]
    record = plan_record(plan, version) | {"region": region, "planned_by": planned_by}
    client.sadd(PLAN_REGIONS_KEY, region)
    client.set(plan_key(region), json.dumps(record, ensure_ascii=False))
    return record


def drop_plan(client: redis.Redis, region: str) -> None:
    """Forget a region's plan (a region with nothing left to plan)."""
    client.delete(plan_key(region))
    client.srem(PLAN_REGIONS_KEY, region)
    client.incr(PLAN_VERSION_KEY)


def plan_record(plan: DispatchPlan, version: int) -> dict[str, Any]:
    return {
        "version": version,
        "planned_at": plan.planned_at.isoformat(),
        "solve_s": round(plan.solve_s, 3),
        "routes": [
            {
                "courier_id": route.courier_id,
                "stops": [
                    {
                        "order_id": s.order_id,
                        "kind": s.kind,
                        "lat": s.position[0],
                        "lng": s.position[1],
                        "arrive_at": s.arrive_at.isoformat(),
                        "start_at": s.start_at.isoformat(),
                        "depart_at": s.depart_at.isoformat(),
                        "late_s": s.late_s,
                    }
                    for s in route.stops
                ],
            }
            for route in plan.routes
        ],
        "unassigned": dict(plan.unassigned),
        "late_orders": plan.late_orders,
        "on_time": plan.on_time,
        "late": plan.late,
        "late_minutes": round(plan.late_minutes, 1),
    }


def snapshot(
    client: redis.Redis, *, store_of: Callable[[str], Store | None], now: datetime
) -> tuple[list[OpenOrder], list[CourierState], dict[str, str]]:
    """Open orders and couriers on shift, as the planner takes them, plus orders it cannot plan.

    An order picked up stays with the courier that reported the pick-up (else the courier the
    last plan gave it to), and that courier is planned until it has delivered it, shift or not.
    """
    carried_by = carriers_of_record(client)
    pinned = pins(client)
    orders: list[OpenOrder] = []
    problems: dict[str, str] = {}
    for record in (order.to_record() for order in stored_orders.open_orders(client)):
        if not due_for_planning(record, now):  # booked for later: planned nearer the time
            continue
        store = store_of(record["store_id"])
        if store is None:
            problems[record["id"]] = f"store {record['store_id']} is not in the catalogue"
            continue
        pinned_to = pinned.get(record["id"])
        orders.append(
            open_order(record, store, now=now, carried_by=carried_by, pinned_to=pinned_to)
        )
    pings = positions(client)
    carrying = {o.picked_up_by for o in orders if o.picked_up_by is not None}
    couriers = [
        courier_state(c, pings, now=now, carrying=c.id in carrying)
        for c in load_couriers(client)
        if is_planned(c, now=now, carrying=c.id in carrying)
    ]
    return orders, couriers, problems


def carriers_of_record(client: redis.Redis) -> dict[str, str]:
    """Order id -> the courier holding it: the phone's pick-up report, else the last plan."""
    previous = current_plan(client) or {"routes": []}
    return {
        stop["order_id"]: route["courier_id"]
        for route in previous["routes"]
        for stop in route["stops"]
    } | carriers(client)


def open_order(
    record: Mapping[str, Any], store: Store, *, now: datetime, carried_by: Mapping[str, str],
    pinned_to: str | None,
) -> OpenOrder:  # fmt: skip
    """An open order's record as the planner takes it: ready a preparation time after it was
    placed, or a scheduled one when its record says (``ready_by``), delivered no sooner than its
    window opens (see :mod:`dispatch.schedule`)."""
    created = datetime.fromisoformat(record["created_at"])
    ready_at = created + timedelta(seconds=store.prep_time_s)
    deliver_from = None
    if record.get("ready_by"):
        ready_at = max(ready_at, datetime.fromisoformat(record["ready_by"]))
        deliver_from = datetime.fromisoformat(record["delivery_window"]["from"])
    if record["status"] in ("ready", "picked_up"):
        ready_at = min(ready_at, now)
    picked_by = carried_by.get(record["id"]) if record["status"] == "picked_up" else None
    customer = record["customer"]
    return OpenOrder(
        record["id"], (store.lat, store.lng), (customer["lat"], customer["lng"]),
        ready_at=ready_at, promised_by=datetime.fromisoformat(record["promised_by"]),
        size=1, picked_up_by=picked_by, pinned_to=pinned_to, deliver_from=deliver_from,
    )  # fmt: skip


def is_planned(courier: CourierProfile, *, now: datetime, carrying: bool) -> bool:
    """Whether the planner takes this courier now: active, and in a shift or starting one
    within ``SHIFT_LOOKAHEAD``, or past its shift with goods still on board."""
    return courier.active and courier.shift_around(now, carrying=carrying) is not None


def courier_state(
    courier: CourierProfile, pings: Mapping[str, Mapping[str, Any]], *, now: datetime,
    carrying: bool = False,
) -> CourierState:  # fmt: skip
    shift = courier.shift_around(now, carrying=carrying) or Shift(
        courier.shift_start, courier.shift_end)  # fmt: skip
    return CourierState(
        courier.id, _where(courier, pings), courier.vehicle, courier.capacity,
        shift_end=shift.end, available_at=max(now, shift.start),
    )  # fmt: skip


Group = tuple[list[OpenOrder], list[CourierState]]


def by_region(
    orders: Sequence[OpenOrder], couriers: Sequence[CourierState], resolution: int | None
) -> dict[str, Group]:
    """Orders and couriers per dispatch region: couriers where they are, orders where their
    store is, except an order on board or pinned, which goes to its courier's region."""
    where = {c.id: c.position for c in couriers}
    groups: dict[str, Group] = {}
    for courier in couriers:
        groups.setdefault(region_of(*courier.position, resolution), ([], []))[1].append(courier)
    for order in orders:
        owner = order.picked_up_by or order.pinned_to
        anchor = where.get(owner) if owner else None
        lat, lng = anchor or order.store
        groups.setdefault(region_of(lat, lng, resolution), ([], []))[0].append(order)
    return groups


def planned_regions(client: redis.Redis) -> set[str]:
    return {decoded(r) for r in client.smembers(PLAN_REGIONS_KEY)}  # type: ignore[union-attr]


def _where(courier: CourierProfile, pings: Mapping[str, Mapping[str, Any]]) -> tuple[float, float]:
    ping = pings.get(courier.id)
    return (ping["lat"], ping["lng"]) if ping else (courier.home_lat, courier.home_lng)


def route_geojson(plan: Mapping[str, Any], couriers: Sequence[CourierProfile],
                  pings: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """The plan as GeoJSON: one LineString per courier route, from where the courier is."""
    by_id = {c.id: c for c in couriers}
    features = []
    for route in plan["routes"]:
        if not route["stops"]:
            continue
        courier = by_id.get(route["courier_id"])
        start = [_where(courier, pings)] if courier else []
        line = [[lng, lat] for lat, lng in start] + [[s["lng"], s["lat"]] for s in route["stops"]]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {"courier_id": route["courier_id"], "stops": len(route["stops"]),
                           "late_orders": sum(1 for s in route["stops"] if s["late_s"] > 0)},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}
