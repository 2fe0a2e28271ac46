"""Matching an order to the closest partner store that can really fulfil it in time (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatch.orders import PROMISE, OrderRequest
from dispatch.schedule import WINDOW, is_today_or_tomorrow, schedule_for
from geo.distance import haversine_m
from geo.index import is_open
from geo.stores import Store
from geo.travel import TravelModel


@dataclass(frozen=True, slots=True)
class StoreSituation:
    """What matching needs to know of one store right now."""

    store: Store
    stock: Mapping[str, int]  # on-hand quantity of each requested sku (missing: none)
    orders_last_hour: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """A store that can fulfil the order, with the ride time that ranks it."""

    store: Store
    ride_s: float
    distance_m: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """A store passed over, and every reason why."""

    store_id: str
    ride_s: float
    reasons: tuple[str, ...]
    missing_skus: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "store_id": self.store_id,
            "ride_s": round(self.ride_s),
            "reasons": list(self.reasons),
        }
        if self.missing_skus:
            body["missing_skus"] = list(self.missing_skus)
        return body


@dataclass(frozen=True, slots=True)
class Ranking:
    feasible: tuple[Candidate, ...]  # by ride time, then id
    rejected: tuple[Rejection, ...]  # by ride time, then id


def rank_stores(
    request: OrderRequest,
    situations: Sequence[StoreSituation],
    *,
    now: datetime,
    travel: TravelModel,
    vehicle: str,
    pickup_allowance_s: float,
    deadline: datetime | None = None,
) -> Ranking:
    """Rank partner stores by ride time to the customer and sort out which can fulfil the order.

    A store qualifies when it is open, stocks every line, has capacity left this hour, covers the
    address (inside its delivery zone where it has one, else within its delivery radius), and
    can keep the one-hour promise: preparation, a courier reaching the store
    (``pickup_allowance_s``) and the ride must all fit before the deadline
    (``now`` plus one hour for a new order; an accepted order keeps its own ``promised_by``).
    A pick-up order needs no courier: its store must be open, stock every line and have
    capacity left (the counter's), at any distance the search reached; the nearest comes first.

    A scheduled order (``request.deliver_at``) need not find the store open now: it must be open
    from when it starts preparing to when the goods are ready (see :mod:`dispatch.schedule`),
    on its today or tomorrow, and ``orders_last_hour`` counts the slot ``deliver_at`` is in.
    """
    pickup = request.fulfilment == "pickup"
    customer = (request.lat, request.lng)
    scheduled = request.deliver_at
    if deadline is None:
        deadline = now + PROMISE if scheduled is None else scheduled + WINDOW
    feasible: list[Candidate] = []
    rejected: list[Rejection] = []
    for situation in situations:
        store = situation.store
        ride_s = travel.seconds((store.lat, store.lng), customer, vehicle=vehicle)
        distance = haversine_m(store.lat, store.lng, request.lat, request.lng)
        reasons: list[str] = []
        if not store.partner:
            reasons.append("not_partner")
        if scheduled is None and is_open(store, now) is not True:
            reasons.append("closed")
        if scheduled is not None:
            plan = schedule_for(
                scheduled, prep_time_s=store.prep_time_s, ride_s=ride_s, pickup=pickup
            )
            if not is_today_or_tomorrow(scheduled, now, store.zone):
                reasons.append("beyond_tomorrow")
            elif not all(is_open(store, max(t, now)) for t in (plan.prepare_from, plan.ready_by)):
                reasons.append("closed_at_scheduled_time")
        missing = tuple(
            sku for sku, qty in request.quantities.items() if situation.stock.get(sku, 0) < qty
        )
        if missing:
            reasons.append("out_of_stock")
        if situation.orders_last_hour >= store.capacity_per_hour:
            reasons.append("over_capacity")
        if not pickup and not store.delivers_to(request.lat, request.lng, distance_m=distance):
            zoned = store.zone_area is not None
            reasons.append("outside_delivery_zone" if zoned else "outside_delivery_radius")
        # a pick-up's promise is the goods ready at the counter within the hour
        arrival = now + timedelta(
            seconds=store.prep_time_s + (0 if pickup else pickup_allowance_s + ride_s)
        )
        if arrival > deadline:
            reasons.append("too_far_for_promise")
        if reasons:
            rejected.append(Rejection(store.id, ride_s, tuple(reasons), missing))
        else:
            feasible.append(Candidate(store, ride_s, distance))
    feasible.sort(key=lambda c: (c.distance_m if pickup else c.ride_s, c.store.id))
    rejected.sort(key=lambda r: (r.ride_s, r.store_id))
    return Ranking(tuple(feasible), tuple(rejected))
