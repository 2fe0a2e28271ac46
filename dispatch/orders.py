"""Orders as typed values: channels, lines, statuses and the legal moves between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from dispatch.schedule import Schedule

CHANNELS = ("app", "web", "wechat", "dianping", "phone", "store")
FULFILMENTS = ("delivery", "pickup")  # to the door by a courier, or collected at the counter
PROMISE = timedelta(minutes=60)
MAX_LINES = 50
MAX_QTY = 99
MAX_CAMPAIGN = 64  # a coupon or QR campaign code: a safe id of at most this many characters

STATUSES = ("accepted", "preparing", "ready", "picked_up", "delivered", "cancelled", "failed",
            "collected", "expired")  # fmt: skip
TRANSITIONS: dict[str, frozenset[str]] = {
    "accepted": frozenset({"preparing", "cancelled", "failed"}),
    "preparing": frozenset({"ready", "cancelled", "failed"}),
    "ready": frozenset({"picked_up", "collected", "expired", "cancelled", "failed"}),
    "picked_up": frozenset({"delivered", "failed"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
    "failed": frozenset(),
    "collected": frozenset(),  # a pick-up order handed over at the counter against its code
    "expired": frozenset(),  # a pick-up order nobody came for in time: its stock went back
}
# The statuses an order ends in: nothing follows them (nothing left to plan or to move).
FINAL_STATUSES = frozenset(status for status, after in TRANSITIONS.items() if not after)
# The ends without a hand-over: no sale, and whatever the shop still held goes back on the shelf.
ENDED_UNSOLD = FINAL_STATUSES - {"delivered", "collected"}
# Until a courier (or the shopper at the counter) has the goods, cancelling, failing or letting
# a pick-up expire puts the reserved stock back on the shelf.
RELEASES_STOCK_FROM = frozenset({"accepted", "preparing", "ready"})
GIVES_STOCK_BACK = ENDED_UNSOLD
FORWARD = ("accepted", "preparing", "ready", "picked_up", "delivered")  # the happy path
PICKUP_FORWARD = ("accepted", "preparing", "ready", "collected")  # a pick-up's happy path
# Statuses that only one way of fulfilment reaches: a pick-up order never sees a courier.
ONLY_FOR = {"picked_up": "delivery", "delivered": "delivery",
            "collected": "pickup", "expired": "pickup"}  # fmt: skip
# A hand-over implies the goods were ready, and ready implies they were prepared: a step the
# counter never announced is recorded with the one that implies it, so every view tells one story.
IMPLIED_BEFORE: dict[str, tuple[str, ...]] = {
    "ready": ("preparing",),
    "picked_up": ("preparing", "ready"),
    "collected": ("preparing", "ready"),
}
# The counter's own steps, sent after a courier was quicker: acknowledged, nothing changes.
LATE_STEPS = frozenset({"preparing", "ready"})
# A record's scheduled-order fields (see dispatch.schedule), null for an order for "now".
SCHEDULE_FIELDS = ("deliver_at", "delivery_window", "ready_by", "prepare_from")


class IllegalTransitionError(ValueError):
    """A status change the lifecycle does not allow (answered as 409)."""


class AlreadyPastError(ValueError):
    """A late counter step on an order already at or past it: acknowledged, nothing changes."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.id} is already {order.status}")
        self.order = order


def steps_to(current: str, target: str) -> tuple[str, ...]:
    """The statuses a move from ``current`` to ``target`` records, in order: the target, after
    the steps it implies (see IMPLIED_BEFORE); none for a late counter step (see LATE_STEPS)."""
    if target not in STATUSES:
        msg = f"unknown status {target!r}"
        raise ValueError(msg)
    path = PICKUP_FORWARD if current == "collected" else FORWARD
    late = target in LATE_STEPS and current in path
    if late and path.index(current) >= path.index(target):
        return ()
    chain = (*IMPLIED_BEFORE.get(target, ()), target)  # each step legal after the one before
    for start, step in enumerate(chain):
        if step in TRANSITIONS[current]:
            return chain[start:]
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
    msg = f"cannot go from {current} to {target}; allowed: {allowed}"
    raise IllegalTransitionError(msg)


def check_fulfilment(fulfilment: str, target: str) -> None:
    """Refuse a status the order's way of fulfilment never reaches (a courier's pick-up of a
    pick-up-in-store order, a counter hand-over of a delivery)."""
    only = ONLY_FOR.get(target)
    if only is not None and only != fulfilment:
        msg = f"a {fulfilment} order is never {target} (only {only} orders are)"
        raise IllegalTransitionError(msg)


def collect_by(order: Order, *, hold: timedelta) -> datetime | None:
    """When a pick-up order that is ready expires if nobody collects it: ``hold`` after it was
    ready (None for a delivery, or a pick-up not ready)."""
    if order.request.fulfilment != "pickup" or order.status != "ready":
        return None
    ready_at = next((e.at for e in reversed(order.events) if e.status == "ready"), None)
    return None if ready_at is None else ready_at + hold


def arrived_at(order: Order) -> datetime | None:
    """When the goods reached the shopper's hands or counter: a delivery delivered, a pick-up
    ready at the counter (None before that, or if the order was cancelled or failed since; a
    pick-up nobody came for did get there)."""
    if order.status in ("cancelled", "failed"):
        return None
    there = "ready" if order.request.fulfilment == "pickup" else "delivered"
    return next((event.at for event in order.events if event.status == there), None)


def on_time(order: Order) -> bool | None:
    """Whether the order got there (:func:`arrived_at`) by its promise; None if it has not."""
    at = arrived_at(order)
    return None if at is None else at <= order.promised_by


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    qty: int

    def __post_init__(self) -> None:
        if not 1 <= self.qty <= MAX_QTY:
            msg = f"qty must be 1 to {MAX_QTY}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a channel sends: validated, not yet matched to a store."""

    channel: str
    external_id: str
    lat: float
    lng: float
    address: str
    lines: tuple[OrderLine, ...]
    note: str = ""
    shopper: str | None = None  # the shopper account that placed it (app and web channels)
    # the store that took it (walk-in or call) or the one the shopper chose: it fulfils it or none
    store_id: str | None = None
    fulfilment: str = "delivery"
    campaign: str | None = None  # the coupon or QR campaign that brought the order
    contact: str = ""  # the shopper's phone for the courier (couriers see it masked)
    deliver_at: datetime | None = None  # a scheduled order (see dispatch.schedule); None: now

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            msg = f"channel must be one of {', '.join(CHANNELS)}"
            raise ValueError(msg)
        if self.fulfilment not in FULFILMENTS:
            msg = f"fulfilment must be one of {', '.join(FULFILMENTS)}"
            raise ValueError(msg)
        if self.campaign is not None and not 0 < len(self.campaign) <= MAX_CAMPAIGN:
            msg = f"a campaign code has 1 to {MAX_CAMPAIGN} characters"
            raise ValueError(msg)
        if not self.lines or len(self.lines) > MAX_LINES:
            msg = f"an order has 1 to {MAX_LINES} lines"
            raise ValueError(msg)
        if len({line.sku for line in self.lines}) != len(self.lines):
            msg = "each sku may appear on one line only"
            raise ValueError(msg)

    @property
    def quantities(self) -> dict[str, int]:
        return {line.sku: line.qty for line in self.lines}


@dataclass(frozen=True, slots=True)
class StatusEvent:
    status: str
    at: datetime
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at.isoformat(), "note": self.note}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StatusEvent:
        return cls(record["status"], datetime.fromisoformat(record["at"]), record.get("note", ""))


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Who cancelled an order (``by``: staff, shopper, tracking_link), why and when."""

    by: str
    reason: str
    at: datetime

    def to_record(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason, "at": self.at.isoformat()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Cancellation:
        return cls(record["by"], record["reason"], datetime.fromisoformat(record["at"]))


@dataclass(frozen=True, slots=True)
class Order:
    """An accepted order and its history; ``promised_by`` is ``created_at`` plus one hour, or
    for a scheduled order the end of its delivery window (``schedule``)."""

    id: str
    request: OrderRequest
    store_id: str
    status: str
    created_at: datetime
    promised_by: datetime
    total_cents: int
    match_reason: str
    passed_over: tuple[dict[str, Any], ...] = ()
    events: tuple[StatusEvent, ...] = field(default=())
    schedule: Schedule | None = None
    cancellation: Cancellation | None = None

    def to_record(self) -> dict[str, Any]:
        """The JSON shape kept in Redis and returned by the API."""
        request = self.request
        return (
            {
                "id": self.id,
                "channel": request.channel,
                "external_id": request.external_id,
                "status": self.status,
                "store_id": self.store_id,
                "customer": {"lat": request.lat, "lng": request.lng, "address": request.address},
                "items": [{"sku": line.sku, "qty": line.qty} for line in request.lines],
                "note": request.note,
                "shopper_id": request.shopper,
                "taken_at_store": request.store_id,
                "fulfilment": request.fulfilment,
                "campaign": request.campaign,
                "contact": request.contact,
                "total_cents": self.total_cents,
                "created_at": self.created_at.isoformat(),
                "promised_by": self.promised_by.isoformat(),
                "match": {"reason": self.match_reason, "passed_over": list(self.passed_over)},
                "events": [event.to_record() for event in self.events],
            }
            | (self.schedule.to_record() if self.schedule else dict.fromkeys(SCHEDULE_FIELDS))
            | ({"cancellation": self.cancellation.to_record()} if self.cancellation else {})
        )

    def stepped(self, steps: Sequence[str], *, at: datetime, note: str) -> Order:
        """The order moved through ``steps`` (see :func:`steps_to`) at ``at``: the last is its
        status and ``note`` its reason; the ones before it are recorded as implied by it."""
        target = steps[-1]
        said = [note if step == target else f"implied by {target}" for step in steps]
        events = tuple(StatusEvent(step, at, why) for step, why in zip(steps, said, strict=True))
        return replace(self, status=target, events=self.events + events)

    def moved_to(self, store_id: str, *, reason: str, at: datetime) -> Order:
        """The order re-matched to another store of its region (still accepted there)."""
        note = f"re-balanced from {self.store_id} to {store_id}"
        events = (*self.events, StatusEvent("accepted", at, note))
        return replace(self, store_id=store_id, match_reason=reason, events=events)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Order:
        """The order a record of :meth:`to_record` describes (its inverse); the fields a record
        written before they existed lacks take their defaults."""
        customer = record["customer"]
        schedule = Schedule.from_record(record) if record.get("deliver_at") else None
        request = OrderRequest(
            record["channel"], record["external_id"], customer["lat"], customer["lng"],
            customer["address"], tuple(OrderLine(i["sku"], i["qty"]) for i in record["items"]),
            record.get("note", ""), record.get("shopper_id"), record.get("taken_at_store"),
            record.get("fulfilment", "delivery"), record.get("campaign"),
            contact=record.get("contact", ""),
            deliver_at=None if schedule is None else schedule.deliver_at,
        )  # fmt: skip
        cancellation = record.get("cancellation")
        return cls(
            id=record["id"],
            request=request,
            store_id=record["store_id"],
            status=record["status"],
            created_at=datetime.fromisoformat(record["created_at"]),
            promised_by=datetime.fromisoformat(record["promised_by"]),
            total_cents=record["total_cents"],
            match_reason=record["match"]["reason"],
            passed_over=tuple(record["match"]["passed_over"]),
            events=tuple(StatusEvent.from_record(e) for e in record["events"]),
            schedule=schedule,
            cancellation=None if cancellation is None else Cancellation.from_record(cancellation),
        )
