"""Order intake: one order matched to the nearest store that can fulfil it and placed
atomically, or refused with every reason. Bulk intake is :mod:`dispatch.intake_batch`,
re-balancing :mod:`dispatch.rebalance`, waiting on a twin request :mod:`dispatch.claim_wait`."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dispatch import idempotency, order_store
from dispatch.claim_wait import claim_or_replay, settle
from dispatch.intake_errors import (
    DeliverAtError,
    NoStoreCanFulfilError,
    UnknownSkuError,
    UnknownStoreError,
)
from dispatch.matching import Candidate, Ranking, Rejection, StoreSituation, rank_stores
from dispatch.orders import PROMISE, Order, OrderRequest, StatusEvent
from dispatch.products import Product
from dispatch.schedule import hour_slot, lead_problem, schedule_for
from geo.index import NearbyQuery, StoreIndex
from geo.stores import Store
from geo.travel import TravelModel


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """How far to look for stores and what the promise check assumes."""

    search_radius_m: float = 10_000.0
    max_candidates: int = 30
    vehicle: str = "e-bike"
    pickup_allowance_s: float = 600.0  # a courier's time to reach the store
    batch_time_limit_s: float = 2.0  # CP-SAT's budget for one bulk batch
    region_resolution: int | None = None  # stores' regions (see dispatch.order_store)


@dataclass(frozen=True, slots=True)
class IntakeResult:
    order: Order
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
class StoreSnapshot:
    """The candidate stores of one order, ranked, and what each had when it was looked at."""

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

    @property
    def store(self) -> order_store.OrderStore:
        return self._store

    @property
    def index(self) -> StoreIndex:
        return self._index

    @property
    def rules(self) -> IntakeRules:
        return self._rules

    @property
    def now(self) -> datetime:
        return self._now

    def take(self, submission: Submission) -> IntakeResult:
        """Create the order at the nearest store that can fulfil it, or explain why none can."""
        replay = self.check(submission)
        if replay is not None:
            return replay
        snapshot = self.snapshot(submission.request)
        try:
            return self.place_first(submission, list(snapshot.ranking.feasible), snapshot.ranking)
        except NoStoreCanFulfilError as refused:
            raise self.with_instead(submission.request, refused) from None

    def with_instead(
        self, request: OrderRequest, refused: NoStoreCanFulfilError
    ) -> NoStoreCanFulfilError:
        """The refusal of an order naming its store, with the nearest other store that could
        take it now (so the shopper may choose that one); other refusals as they are."""
        if request.store_id is None:
            return refused
        others = self.snapshot(replace(request, store_id=None)).ranking.feasible
        instead = next((c for c in others if c.store.id != request.store_id), None)
        return NoStoreCanFulfilError(refused.rejections, taken_at=request.store_id, instead=instead)

    def check(self, submission: Submission) -> IntakeResult | None:
        """Refuse unknown skus; return the earlier order if this is a retry."""
        request = submission.request
        unknown = sorted(line.sku for line in request.lines if line.sku not in self._products)
        if unknown:
            raise UnknownSkuError(unknown)
        if request.store_id is not None and self._index.get(request.store_id) is None:
            raise UnknownStoreError(request.store_id)
        keys = submission.keys
        held = self._store.find_claim(keys)
        earlier = None
        if held is not None:
            earlier = settle(self._store, keys, submission.fingerprint, held, now=self._now)
        if earlier is None and request.deliver_at is not None:
            problem = lead_problem(request.deliver_at, self._now)
            if problem is not None:
                raise DeliverAtError(problem)
        return None if earlier is None else IntakeResult(earlier, replayed=True)

    def snapshot(
        self,
        request: OrderRequest,
        *,
        deadline: datetime | None = None,
        freed: tuple[Mapping[str, Mapping[str, int]], Mapping[str, int]] | None = None,
        region: str | None = None,
        holder: str | None = None,
    ) -> StoreSnapshot:
        """Rank the candidate stores for ``request`` (those of ``region`` if given, and always the
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
        if region is not None:
            stores = [store for store in stores if self.keyspace_of(store).region == region]
        held_by = self._index.get(holder) if holder is not None else None
        if held_by is not None and all(store.id != held_by.id for store in stores):
            stores.append(held_by)  # far, or no longer a partner: still where the order is
        skus = [line.sku for line in request.lines]
        keyspaces = [self.keyspace_of(store) for store in stores]
        counted = None
        if request.deliver_at is not None:  # a scheduled order counts in its own hour slot
            counted = [hour_slot(request.deliver_at, store.zone) for store in stores]
        states = self._store.situations_for(keyspaces, skus, now=self._now, counted=counted)
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
        return StoreSnapshot(ranking, situations)

    def place_first(
        self, submission: Submission, candidates: list[Candidate], ranking: Ranking
    ) -> IntakeResult:
        """Place at the first candidate that still takes it; refuse with every reason if none."""
        ticket = secrets.token_hex(8)
        keys, fingerprint = submission.keys, submission.fingerprint
        replay = claim_or_replay(self._store, keys, fingerprint, ticket, now=self._now)
        if replay is not None:
            return IntakeResult(replay, replayed=True)
        rejections = list(ranking.rejected)
        for candidate in candidates:
            tried = {r.store_id for r in rejections}
            skipped = [  # nearer stores the batch matcher gave to other orders
                Rejection(c.store.id, c.ride_s, ("kept_for_other_orders_in_batch",))
                for c in ranking.feasible
                if c.ride_s < candidate.ride_s and c.store.id not in tried
            ]
            keyspace = self.keyspace_of(candidate.store)
            order_id = order_store.order_id_for(keyspace.region, ticket)
            order = self._order_at(order_id, submission.request, candidate, rejections + skipped)
            deliver_at = submission.request.deliver_at
            placed = self._store.place_order(
                order, keyspace, capacity_per_hour=candidate.store.capacity_per_hour,
                counted=None if deliver_at is None else hour_slot(deliver_at, candidate.store.zone),
            )  # fmt: skip
            if placed.outcome == "ok":
                return IntakeResult(order, replayed=False)
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

    def keyspace_of(self, store: Store) -> order_store.StoreKeyspace:
        """Where ``store``'s stock and orders are kept (its region at the rules' resolution)."""
        return order_store.StoreKeyspace.of(store, self._rules.region_resolution)

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


def _by_ride(rejection: Rejection) -> tuple[float, str]:
    return rejection.ride_s, rejection.store_id
