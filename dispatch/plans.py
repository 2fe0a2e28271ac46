"""Plans as stored: each dispatch region's latest plan, and the plan in force (all merged).

A :class:`RegionPlan` is what the dispatcher worker wrote for one region (a
:class:`~dispatch.planner.DispatchPlan` with the version it was written under);
:class:`CurrentPlan` is every region's merged, as the API, the courier's phone and the
dispatcher's screen read it. Both go to and from the JSON records of
:mod:`dispatch.storage.plans`; ``to_record`` gives the JSON the API answers with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatch.planner import DispatchPlan
from dispatch.regions import ALL
from dispatch.routing import RouteHint


@dataclass(frozen=True, slots=True)
class StoredStop:
    """One stop of a courier's planned route."""

    order_id: str
    kind: str  # pickup | delivery
    lat: float
    lng: float
    arrive_at: datetime
    start_at: datetime
    depart_at: datetime
    late_s: int  # past the order's promise (deliveries)
    # the record it was read from, answered again as it is: formatting three times per stop
    # made reading the plan in force three times slower than passing the stored JSON on
    record: Mapping[str, Any] | None = field(default=None, init=False, compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        if self.record is not None:
            return dict(self.record)
        return {
            "order_id": self.order_id, "kind": self.kind, "lat": self.lat, "lng": self.lng,
            "arrive_at": self.arrive_at.isoformat(), "start_at": self.start_at.isoformat(),
            "depart_at": self.depart_at.isoformat(), "late_s": self.late_s,
        }  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StoredStop:
        stop = cls(
            record["order_id"], record["kind"], record["lat"], record["lng"],
            datetime.fromisoformat(record["arrive_at"]), datetime.fromisoformat(record["start_at"]),
            datetime.fromisoformat(record["depart_at"]), record["late_s"],
        )  # fmt: skip
        object.__setattr__(stop, "record", record)  # not an argument: a changed copy has none
        return stop


@dataclass(frozen=True, slots=True)
class StoredRoute:
    """A courier's planned stops, in order."""

    courier_id: str
    stops: tuple[StoredStop, ...]

    def to_record(self) -> dict[str, Any]:
        return {"courier_id": self.courier_id, "stops": [s.to_record() for s in self.stops]}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StoredRoute:
        return cls(record["courier_id"], tuple(StoredStop.from_record(s) for s in record["stops"]))


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """A dispatch region's plan as written: its routes, the orders left out with the reason,
    the planned late ones (order id -> seconds past the promise) and the counts."""

    version: int
    planned_at: datetime
    solve_s: float
    routes: tuple[StoredRoute, ...]
    unassigned: Mapping[str, str]  # order id -> reason
    late_orders: Mapping[str, int]
    on_time: int = 0
    late: int = 0
    late_minutes: float = 0.0
    region: str = ALL
    planned_by: str | None = None  # the worker that wrote it (None: a dispatcher's re-plan)

    @classmethod
    def of(
        cls, plan: DispatchPlan, version: int, *, region: str, planned_by: str | None
    ) -> RegionPlan:
        """The plan the planner made, as stored under ``version``."""
        routes = tuple(
            StoredRoute(route.courier_id, tuple(
                StoredStop(s.order_id, s.kind, s.position[0], s.position[1], s.arrive_at,
                           s.start_at, s.depart_at, s.late_s)
                for s in route.stops))
            for route in plan.routes
        )  # fmt: skip
        return cls(
            version, plan.planned_at, round(plan.solve_s, 3), routes, dict(plan.unassigned),
            plan.late_orders, plan.on_time, plan.late, round(plan.late_minutes, 1),
            region=region, planned_by=planned_by,
        )  # fmt: skip

    def without_courier(self, courier_id: str, *, reason: str, version: int) -> RegionPlan:
        """This plan with the courier's route taken out: its orders unassigned with ``reason``
        (and no longer counted late), under ``version``."""
        orders = {s.order_id for r in self.routes if r.courier_id == courier_id for s in r.stops}
        return RegionPlan(
            version, self.planned_at, self.solve_s,
            tuple(r for r in self.routes if r.courier_id != courier_id),
            {**self.unassigned, **dict.fromkeys(sorted(orders), reason)},
            {k: v for k, v in self.late_orders.items() if k not in orders},
            self.on_time, self.late, self.late_minutes, region=self.region,
            planned_by=self.planned_by,
        )  # fmt: skip

    def to_record(self) -> dict[str, Any]:
        return {
            "version": self.version, "planned_at": self.planned_at.isoformat(),
            "solve_s": self.solve_s, "routes": [r.to_record() for r in self.routes],
            "unassigned": dict(self.unassigned), "late_orders": dict(self.late_orders),
            "on_time": self.on_time, "late": self.late, "late_minutes": self.late_minutes,
            "region": self.region, "planned_by": self.planned_by,
        }  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, region: str = ALL) -> RegionPlan:
        """A stored record; ``region`` for records written before they named theirs."""
        return cls(
            record["version"], datetime.fromisoformat(record["planned_at"]), record["solve_s"],
            tuple(StoredRoute.from_record(r) for r in record["routes"]),
            dict(record["unassigned"]), dict(record["late_orders"]),
            record.get("on_time", 0), record.get("late", 0), record.get("late_minutes", 0.0),
            region=record.get("region", region), planned_by=record.get("planned_by"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegionStamp:
    """Which version of a region's plan is in force and which worker wrote it."""

    version: int
    planned_by: str | None


@dataclass(frozen=True, slots=True)
class CurrentPlan:
    """Every region's latest plan, merged: ``version`` counts all plans written so far,
    ``planned_at`` is the oldest region's, ``solve_s`` the longest solve."""

    version: int
    planned_at: datetime
    solve_s: float
    routes: tuple[StoredRoute, ...]
    unassigned: Mapping[str, str]
    late_orders: Mapping[str, int]
    on_time: int
    late: int
    late_minutes: float
    regions: Mapping[str, RegionStamp]

    @classmethod
    def merged(cls, plans: Mapping[str, RegionPlan], version: int) -> CurrentPlan | None:
        """The regions' plans (by region) as one; None when no region has a plan."""
        if not plans:
            return None
        parts = list(plans.values())
        return cls(
            version=version,
            planned_at=min(p.planned_at for p in parts),
            solve_s=max(p.solve_s for p in parts),
            routes=tuple(route for p in parts for route in p.routes),
            unassigned={k: v for p in parts for k, v in p.unassigned.items()},
            late_orders={k: v for p in parts for k, v in p.late_orders.items()},
            on_time=sum(p.on_time for p in parts),
            late=sum(p.late for p in parts),
            late_minutes=round(sum(p.late_minutes for p in parts), 1),
            regions={name: RegionStamp(p.version, p.planned_by) for name, p in plans.items()},
        )

    def route_of(self, courier_id: str) -> StoredRoute | None:
        return next((r for r in self.routes if r.courier_id == courier_id), None)

    def couriers_of_orders(self) -> dict[str, str]:
        """Order id -> the courier the plan gives it to."""
        return {s.order_id: r.courier_id for r in self.routes for s in r.stops}

    def hint(self) -> RouteHint:
        """Each courier's stops as order id and kind: where the next re-plan starts from."""
        return {r.courier_id: [(s.order_id, s.kind) for s in r.stops] for r in self.routes}

    def to_record(self) -> dict[str, Any]:
        return {
            "version": self.version, "planned_at": self.planned_at.isoformat(),
            "solve_s": self.solve_s, "routes": [r.to_record() for r in self.routes],
            "unassigned": dict(self.unassigned), "late_orders": dict(self.late_orders),
            "on_time": self.on_time, "late": self.late, "late_minutes": self.late_minutes,
            "regions": {name: {"version": s.version, "planned_by": s.planned_by}
                        for name, s in self.regions.items()},
        }  # fmt: skip


def routes_of(plan: CurrentPlan | None) -> tuple[StoredRoute, ...]:
    """The plan's routes; none before the first plan."""
    return () if plan is None else plan.routes


def delivery_stops(routes: Iterable[StoredRoute]) -> dict[str, tuple[str, StoredStop]]:
    """Order id -> its courier and planned delivery stop."""
    return {s.order_id: (r.courier_id, s) for r in routes for s in r.stops if s.kind == "delivery"}
