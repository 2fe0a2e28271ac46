"""Order intake: idempotency, matching to the nearest store that can fulfil, atomic placement."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dispatch import idempotency, order_store
from dispatch.batch_matching import BatchOrder, BatchStore, batch_match, current_plan
from dispatch.matching import Candidate, Ranking, Rejection, StoreSituation, rank_stores
from dispatch.orders import PROMISE, Order, OrderLine, OrderRequest, StatusEvent
from dispatch.products import Product
from dispatch.schedule import hour_slot, lead_problem, schedule_for
from geo.index import NearbyQuery, StoreIndex
from geo.stores import Store
from geo.travel import TravelModel

CLAIM_WAIT_S = 2.0  # how long a retry waits for its twin's placement to land
CLAIM_STALE_S = 120.0  # a claim this old with no order behind it was left by a dead process


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """How far to look for stores and what the promise check assumes."""

    search_radius_m: float = 10_000.0
    max_candidates: int = 30
    vehicle: str = "e-bike"
    pickup_allowance_s: float = 600.0  # a courier's time to reach the store
    batch_time_limit_s: float = 2.0  # CP-SAT's budget for one bulk batch
    region_resolution: int | None = None  # stores' homes (see dispatch.order_store)


class IntakeError(ValueError):
    """Why an order was refused; the web layer turns each kind into its 4xx."""


class UnknownSkuError(IntakeError):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"unknown sku(s): {', '.join(skus)}")
        self.skus = skus


class IdempotencyConflictError(IntakeError):
    """The same idempotency key or channel order id came with a different body (``same_as``:
    the index of the order in the same batch that used it first)."""

    def __init__(self, order_id: str | None, *, same_as: int | None = None) -> None:
        if same_as is not None:
            used = f"order {same_as} of this batch"
        else:
            used = f"order {order_id}" if order_id else "a request still being placed"
        super().__init__(f"this key was already used for {used} with another body")
        self.order_id = order_id
        self.same_as = same_as


class IdempotencyInProgressError(IntakeError):
    """An identical request is still being placed: retry in a moment."""

    def __init__(self) -> None:
        super().__init__("an identical request is still being placed; retry in a few seconds")


class UnknownStoreError(IntakeError):
    def __init__(self, store_id: str) -> None:
        super().__init__(f"no store with id {store_id!r} in the catalogue")
        self.store_id = store_id


class DeliverAtError(IntakeError):
    """A ``deliver_at`` that cannot be booked now (too soon, past, too far): checked after
    the retry check, so that a retry of an order booked earlier still gets its order."""


class NoStoreCanFulfilError(IntakeError):
    """No store can; for an order naming its store (``taken_at``: the store that took it or the
    one the shopper chose), ``instead`` is the nearest other store that could."""

    def __init__(
        self, rejections: list[Rejection], *, taken_at: str | None = None,
        instead: Candidate | None = None,
    ) -> None:  # fmt: skip
        if taken_at is None:
            super().__init__("no partner store can fulfil this order within the hour")
        else:
            super().__init__(f"store {taken_at}, which the order names (it took the order or "
                             "was chosen), cannot fulfil it in time")  # fmt: skip
        self.rejections = rejections
        self.taken_at = taken_at
        self.instead = instead


@dataclass(frozen=True, slots=True)
class IntakeResult:
    order: dict[str, Any]
    replayed: bool  # True when an earlier identical request had already created it


def body_hash(body: Mapping[str, Any]) -> str:
    """A fingerprint of the request body that ignores key order and spacing."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Submission:
    """One order as received: the request, its body fingerprint, optional header key and the
    caller's idempotency scope (see :mod:`dispatch.idempotency`)."""

    request: OrderRequest
    fingerprint: str
    header_key: str | None = None
    scope: str | None = None

    @property
    def keys(self) -> list[str]:
        request = self.request
        return idempotency.keys_for(
            request.channel, request.external_id, self.header_key, scope=self.scope
        )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    ranking: Ranking
    situations: dict[str, StoreSituation]


class Intake:
    """Takes orders against one moment's view of stores, stock and capacity, kept by ``store``
    (any :class:`dispatch.order_store.OrderStore`: Redis in the service)."""

    def __init__(
        self,
        store: order_store.OrderStore,
        *,
        index: StoreIndex,
        products: Mapping[str, Product],
        travel: TravelModel,
        rules: IntakeRules,
        now: datetime,
    ) -> None:
        self._store = store
        self._index = index
        self._products = products
        self._travel = travel
        self._rules = rules
        self._now = now

    def take(self, submission: Submission) -> IntakeResult:
        """Create the order at the nearest store that can fulfil it, or explain why none can."""
        replay = self._check(submission)
        if replay is not None:
            return replay
        snapshot = self._snapshot(submission.request)
        try:
            return self._place_first(submission, list(snapshot.ranking.feasible), snapshot.ranking)
        except NoStoreCanFulfilError as refused:
            raise self._with_instead(submission.request, refused) from None

    def _with_instead(
        self, request: OrderRequest, refused: NoStoreCanFulfilError
    ) -> NoStoreCanFulfilError:
        """The refusal of an order naming its store, with the nearest other store that could
        take it now (so the shopper may choose that one); other refusals as they are."""
        if request.store_id is None:
            return refused
        others = self._snapshot(replace(request, store_id=None)).ranking.feasible
        instead = next((c for c in others if c.store.id != request.store_id), None)
        return NoStoreCanFulfilError(refused.rejections, taken_at=request.store_id, instead=instead)

    def take_batch(self, submissions: Sequence[Submission]) -> list[IntakeResult | IntakeError]:
        """Match a batch at once with the CP-SAT batch matcher, then place each order.

        Orders the matcher assigned are placed first, at their assigned store; the others then
        try their candidates nearest first. Each placement is still atomic on its own, so a
        store that changed since the snapshot only sends that order on to its next candidate.
        """
        results: list[IntakeResult | IntakeError | None] = [None] * len(submissions)
        pending: dict[int, _Snapshot] = {}
        twins, conflicts = _repeats_within(submissions)
        for i, submission in enumerate(submissions):
            if i in twins or i in conflicts:  # answered from the first of its keys below
                continue
            try:
                results[i] = self._check(submission)
            except (UnknownSkuError, UnknownStoreError, IdempotencyConflictError,
                    IdempotencyInProgressError, DeliverAtError) as exc:  # fmt: skip
                results[i] = exc
                continue
            if results[i] is None:
                pending[i] = self._snapshot(submission.request)
        plan = batch_match(
            [
                BatchOrder(
                    str(i),
                    submissions[i].request.quantities,
                    tuple((c.store.id, c.ride_s) for c in snap.ranking.feasible),
                )
                for i, snap in pending.items()
            ],
            _batch_stores(pending.values()),
            time_limit_s=self._rules.batch_time_limit_s,
        )
        assigned = {int(i): store for i, store in plan.assignment.items()}
        for i in sorted(pending, key=lambda i: (i not in assigned, i)):
            ranking = pending[i].ranking
            chosen = assigned.get(i)
            ordered = sorted(ranking.feasible, key=lambda c: (c.store.id != chosen, c.ride_s))
            try:  # a claim refused here (a twin request racing us) refuses before any write
                results[i] = self._place_first(submissions[i], ordered, ranking)
            except NoStoreCanFulfilError as refused:
                results[i] = self._with_instead(submissions[i].request, refused)
            except (IdempotencyConflictError, IdempotencyInProgressError) as exc:
                results[i] = exc
        for i, first in twins.items():  # the same order sent twice: one order, as for a retry
            done = results[first]
            results[i] = IntakeResult(done.order, replayed=True) if isinstance(
                done, IntakeResult) else done  # fmt: skip
        for i, first in conflicts.items():
            done = results[first]
            placed = done.order["id"] if isinstance(done, IntakeResult) else None
            results[i] = IdempotencyConflictError(placed, same_as=first)
        return [r for r in results if r is not None]

    def _check(self, submission: Submission) -> IntakeResult | None:
        """Refuse unknown skus; return the earlier order if this is a retry."""
        request = submission.request
        unknown = sorted(line.sku for line in request.lines if line.sku not in self._products)
        if unknown:
            raise UnknownSkuError(unknown)
        if request.store_id is not None and self._index.get(request.store_id) is None:
            raise UnknownStoreError(request.store_id)
        held = self._store.find_claim(submission.keys)
        replay = None if held is None else self._settle(submission, held)
        if replay is None and request.deliver_at is not None:
            problem = lead_problem(request.deliver_at, self._now)
            if problem is not None:
                raise DeliverAtError(problem)
        return replay

    def _settle(self, submission: Submission, held: idempotency.Claim) -> IntakeResult | None:
        """The order an earlier request with the same keys placed; None once its claim is gone
        (refused, or stale: its process died before placing). Waits briefly for one in flight."""
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            order = self._store.claimed_order(held.ticket)
            if held.body_hash != submission.fingerprint:
                raise IdempotencyConflictError(order["id"] if order else None)
            if order is not None:
                return IntakeResult(order, replayed=True)
            if self._now.timestamp() - held.claimed_at > CLAIM_STALE_S:
                self._store.drop_claim(submission.keys, held)
                return None
            if time.monotonic() > deadline:
                raise IdempotencyInProgressError
            time.sleep(0.05)
            again = self._store.find_claim(submission.keys)
            if again is None:
                return None
            held = again

    def _claim(self, submission: Submission, ticket: str) -> IntakeResult | None:
        """Claim the submission's keys for ``ticket``; the earlier order if a twin has them."""
        mine = idempotency.Claim(ticket, submission.fingerprint, self._now.timestamp())
        for _ in range(5):
            held = self._store.claim(submission.keys, mine)
            if held is None:
                return None
            replay = self._settle(submission, held)
            if replay is not None:
                return replay
        raise IdempotencyInProgressError

    def rebalance(self, *, limit: int = 500) -> Rebalance:
        """Re-match the orders not yet being prepared as one batch and move those it improves.

        Each order may stay where it is (its own reservation counts as free for it), and that is
        the default: the batch matcher moves orders only when that strictly improves, first the
        orders at a store that can fulfil them, then the total ride from store to customer (see
        :mod:`dispatch.batch_matching`). A home's moves are applied together, atomically, or not
        at all (a move that pays only with another must not land alone); if its orders or stores
        changed meanwhile, the home is re-matched on fresh data. No order is ever dropped.
        """
        passes = [self._rebalance_home(home, limit) for home in self._store.homes()]
        return Rebalance(
            considered=sum(p.considered for p in passes),
            moves=tuple(m for p in passes for m in p.moves),
            ride_before_s=sum(p.ride_before_s for p in passes),
            ride_after_s=sum(p.ride_after_s for p in passes),
            solver_status=",".join(sorted({p.solver_status for p in passes})) or "OPTIMAL",
        )

    def _rebalance_home(self, home: str, limit: int) -> Rebalance:
        """Re-balance one home's orders among its own stores (the moves stay in one Redis slot)."""
        for _ in range(3):
            attempt = self._rebalance_once(home, limit)
            if attempt is not None:
                return attempt
        records = self._movable(home, limit)
        return Rebalance(len(records), (), 0.0, 0.0, "changed_meanwhile")

    def _movable(self, home: str, limit: int) -> list[dict[str, Any]]:
        """The home's accepted orders that could move: placed in the last hour (an older one
        cannot be kept anywhere) at a store of the catalogue."""
        since = self._now - PROMISE
        return [
            record
            for record in self._store.accepted_orders(home, limit=limit)
            if datetime.fromisoformat(record["created_at"]) > since
            and self._index.get(record["store_id"]) is not None
            and record.get("deliver_at") is None  # booked for later: its slot stays its own
        ]

    def _rebalance_once(self, home: str, limit: int) -> Rebalance | None:
        """One re-balance of ``home``; None if its moves no longer fit what is in Redis."""
        records = self._movable(home, limit)
        freed_stock: dict[str, dict[str, int]] = {}
        freed_slots: dict[str, int] = {}
        for record in records:
            shelf = freed_stock.setdefault(record["store_id"], {})
            for item in record["items"]:
                shelf[item["sku"]] = shelf.get(item["sku"], 0) + item["qty"]
            freed_slots[record["store_id"]] = freed_slots.get(record["store_id"], 0) + 1
        snapshots = {
            record["id"]: self._snapshot(
                _request_of(record),
                deadline=datetime.fromisoformat(record["promised_by"]),
                freed=(freed_stock, freed_slots),
                home=home,
                holder=record["store_id"],
            )
            for record in records
        }
        orders = [
            BatchOrder(
                record["id"],
                {item["sku"]: item["qty"] for item in record["items"]},
                tuple((c.store.id, c.ride_s) for c in snapshots[record["id"]].ranking.feasible),
                current=(record["store_id"], _ride_at(snapshots[record["id"]], record["store_id"])),
            )
            for record in records
        ]
        plan = batch_match(
            orders,
            _batch_stores(snapshots.values()),
            time_limit_s=self._rules.batch_time_limit_s,
        )
        before = current_plan(orders)
        moves = [
            order_store.Move(
                o.id, old, new, f"re-balanced with other open orders: {new} instead of {old}"
            )
            for o in orders
            if (old := before.assignment[o.id]) != (new := plan.assignment[o.id])
        ]
        capacity = {
            store_id: situation.store.capacity_per_hour
            for snapshot in snapshots.values()
            for store_id, situation in snapshot.situations.items()
        }
        if not self._store.move_orders(moves, capacity_per_hour=capacity, at=self._now):
            return None
        return Rebalance(
            considered=len(records),
            moves=tuple((m.order_id, m.from_store, m.to_store) for m in moves),
            ride_before_s=before.total_ride_s,
            ride_after_s=plan.total_ride_s,
            solver_status=plan.status,
        )

    def _snapshot(
        self,
        request: OrderRequest,
        *,
        deadline: datetime | None = None,
        freed: tuple[Mapping[str, Mapping[str, int]], Mapping[str, int]] | None = None,
        home: str | None = None,
        holder: str | None = None,
    ) -> _Snapshot:
        """Rank the candidate stores for ``request`` (those of ``home`` if given, and always the
        ``holder``, the store holding it now) on their stock and slots now, counting ``freed``
        stock and slots (held by orders being re-matched) as available. An order taken at a
        store has that one candidate."""
        freed_stock, freed_slots = freed or ({}, {})
        rules = self._rules
        query = NearbyQuery(
            request.lat, request.lng, rules.search_radius_m, rules.max_candidates, partner=True
        )
        stores = [hit.store for hit in self._index.nearby(query)]
        if request.store_id is not None:
            taken_at = self._index.get(request.store_id)
            stores = [] if taken_at is None else [taken_at]
        if home is not None:
            stores = [store for store in stores if self._slot(store).home == home]
        held_by = self._index.get(holder) if holder is not None else None
        if held_by is not None and all(store.id != held_by.id for store in stores):
            stores.append(held_by)  # far, or no longer a partner: still where the order is
        skus = [line.sku for line in request.lines]
        slots = [self._slot(store) for store in stores]
        counted = None
        if request.deliver_at is not None:  # a scheduled order counts in its own hour slot
            counted = [hour_slot(request.deliver_at, store.zone) for store in stores]
        states = self._store.situations_for(slots, skus, now=self._now, counted=counted)
        situations = {}
        for store, (stock, count) in zip(stores, states, strict=True):
            back = freed_stock.get(store.id, {})
            shelf = {sku: stock.get(sku, 0) + back.get(sku, 0) for sku in skus}
            slots_used = count - freed_slots.get(store.id, 0)
            situations[store.id] = StoreSituation(store, shelf, slots_used)
        ranking = rank_stores(
            request,
            list(situations.values()),
            now=self._now,
            travel=self._travel,
            vehicle=rules.vehicle,
            pickup_allowance_s=rules.pickup_allowance_s,
            deadline=deadline,
        )
        return _Snapshot(ranking, situations)

    def _place_first(
        self, submission: Submission, candidates: list[Candidate], ranking: Ranking
    ) -> IntakeResult:
        """Place at the first candidate that still takes it; refuse with every reason if none."""
        ticket = secrets.token_hex(8)
        replay = self._claim(submission, ticket)
        if replay is not None:
            return replay
        rejections = list(ranking.rejected)
        for candidate in candidates:
            tried = {r.store_id for r in rejections}
            skipped = [  # nearer stores the batch matcher gave to other orders
                Rejection(c.store.id, c.ride_s, ("kept_for_other_orders_in_batch",))
                for c in ranking.feasible
                if c.ride_s < candidate.ride_s and c.store.id not in tried
            ]
            slot = self._slot(candidate.store)
            order_id = order_store.order_id_for(slot.home, ticket)
            order = self._order_at(order_id, submission.request, candidate, rejections + skipped)
            deliver_at = submission.request.deliver_at
            placed = self._store.place_order(
                order, slot, capacity_per_hour=candidate.store.capacity_per_hour,
                counted=None if deliver_at is None else hour_slot(deliver_at, candidate.store.zone),
            )  # fmt: skip
            if placed.outcome == "ok":
                return IntakeResult(order.to_record(), replayed=False)
            if placed.outcome == "exists":  # 64 random bits met an earlier ticket
                msg = f"order id {order_id} is taken"
                raise RuntimeError(msg)
            # the last unit or slot went since the snapshot: try the next store
            reason = "out_of_stock" if placed.outcome == "out_of_stock" else "over_capacity"
            rejections.append(
                Rejection(candidate.store.id, candidate.ride_s, (reason,), placed.missing_skus)
            )
        mine = idempotency.Claim(ticket, submission.fingerprint, self._now.timestamp())
        self._store.drop_claim(submission.keys, mine)  # a retry may try afresh
        taken_at = submission.request.store_id
        raise NoStoreCanFulfilError(sorted(rejections, key=_by_ride), taken_at=taken_at)

    def _slot(self, store: Store) -> order_store.StoreSlot:
        return order_store.StoreSlot.of(store, self._rules.region_resolution)

    def _order_at(
        self, order_id: str, request: OrderRequest, candidate: Candidate,
        rejections: list[Rejection],
    ) -> Order:  # fmt: skip
        passed_over = sorted((r for r in rejections if r.ride_s <= candidate.ride_s), key=_by_ride)
        now = self._now
        store = candidate.store
        schedule = None
        if request.deliver_at is not None:
            schedule = schedule_for(
                request.deliver_at,
                prep_time_s=store.prep_time_s,
                ride_s=candidate.ride_s,
                pickup=request.fulfilment == "pickup",
            )
        return Order(
            id=order_id,
            request=request,
            store_id=candidate.store.id,
            status="accepted",
            created_at=now,
            promised_by=now + PROMISE if schedule is None else schedule.window_to,
            schedule=schedule,
            total_cents=sum(self._products[ln.sku].price_cents * ln.qty for ln in request.lines),
            match_reason=_match_reason(request, candidate, scheduled=schedule is not None),
            passed_over=tuple(r.to_dict() for r in passed_over),
            events=(StatusEvent("accepted", now),),
        )


def _match_reason(request: OrderRequest, candidate: Candidate, *, scheduled: bool) -> str:
    """Why the order went to ``candidate``, in words for the shopper and the merchant."""
    if request.store_id is None:
        which = "nearest partner store that can fulfil the order"
    elif request.channel in ("store", "phone") and request.shopper is None:
        which = "the store that took the order, and it can fulfil it"
    else:
        which = "the store the shopper chose, and it can fulfil it"
    if request.fulfilment == "pickup":
        opening = "open at the pick-up time" if scheduled else "open"
        return (f"{which}, for pick-up in store: {candidate.distance_m:.0f} m away, {opening}, "
                "every item in stock, capacity left")  # fmt: skip
    if scheduled:
        return (f"{which}: {candidate.ride_s / 60:.0f} min ride ({candidate.distance_m:.0f} m), "
                "open while it prepares the order, every item in stock, capacity left in the "
                "hour of the delivery")  # fmt: skip
    return (f"{which}: {candidate.ride_s / 60:.0f} min ride ({candidate.distance_m:.0f} m), "
            "open, every item in stock, capacity left")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rebalance:
    """What a re-balance did: (order id, from store, to store) per move, and ride times."""

    considered: int
    moves: tuple[tuple[str, str, str], ...]
    ride_before_s: float
    ride_after_s: float
    solver_status: str


def _request_of(record: Mapping[str, Any]) -> OrderRequest:
    """The request an accepted order was made from, read back from its stored record."""
    customer = record["customer"]
    lines = tuple(OrderLine(item["sku"], item["qty"]) for item in record["items"])
    return OrderRequest(
        record["channel"], record["external_id"], customer["lat"], customer["lng"],
        customer["address"], lines, record["note"], record.get("shopper_id"),
        record.get("taken_at_store"), record.get("fulfilment", "delivery"),
        record.get("campaign"), contact=record.get("contact", ""),
        deliver_at=datetime.fromisoformat(record["deliver_at"]) if record.get("deliver_at")
        else None,
    )  # fmt: skip


def _repeats_within(submissions: Sequence[Submission]) -> tuple[dict[int, int], dict[int, int]]:
    """Orders of one batch that use the idempotency keys of an earlier one: with the same body
    (twins, answered as its retry) and with another (conflicts, refused before anything is
    written), each mapped to the index of that earlier order."""
    first_with: dict[str, int] = {}
    twins: dict[int, int] = {}
    conflicts: dict[int, int] = {}
    for i, submission in enumerate(submissions):
        first = next((first_with[k] for k in submission.keys if k in first_with), None)
        if first is None:
            first_with.update(dict.fromkeys(submission.keys, i))
        elif submissions[first].fingerprint == submission.fingerprint:
            twins[i] = first
        else:
            conflicts[i] = first
    return twins, conflicts


def _batch_stores(snapshots: Iterable[_Snapshot]) -> list[BatchStore]:
    """Each candidate store once, with its slots left this hour and the stock seen for it."""
    capacity: dict[str, int] = {}
    stock: dict[str, dict[str, int]] = {}
    for snapshot in snapshots:
        for store_id, situation in snapshot.situations.items():
            left = situation.store.capacity_per_hour - situation.orders_last_hour
            capacity[store_id] = max(0, left)
            stock.setdefault(store_id, {}).update(situation.stock)
    return [BatchStore(store_id, capacity[store_id], stock[store_id]) for store_id in capacity]


def _ride_at(snapshot: _Snapshot, store_id: str) -> float:
    """The ride from ``store_id`` to the customer, as the snapshot ranked it (qualifying or not)."""
    ranking = snapshot.ranking
    rides = {c.store.id: c.ride_s for c in ranking.feasible}
    rides |= {r.store_id: r.ride_s for r in ranking.rejected}
    return rides[store_id]


def _by_ride(rejection: Rejection) -> tuple[float, str]:
    return rejection.ride_s, rejection.store_id
