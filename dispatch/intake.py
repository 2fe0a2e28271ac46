"""Order intake: idempotency, matching to the nearest store that can fulfil, atomic placement."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from dispatch import order_store
from dispatch.matching import Rejection, StoreSituation, rank_stores
from dispatch.orders import PROMISE, Order, OrderRequest, StatusEvent
from dispatch.products import Product
from geo.index import NearbyQuery, StoreIndex
from geo.travel import TravelModel


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """How far to look for stores and what the promise check assumes."""

    search_radius_m: float = 10_000.0
    max_candidates: int = 30
    vehicle: str = "e-bike"
    pickup_allowance_s: float = 600.0  # a courier's time to reach the store


class UnknownSkuError(ValueError):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"unknown sku(s): {', '.join(skus)}")
        self.skus = skus


class IdempotencyConflictError(ValueError):
    """The same idempotency key or channel order id came with a different body."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"this key was already used for order {order_id} with another body")
        self.order_id = order_id


class NoStoreCanFulfilError(ValueError):
    def __init__(self, rejections: list[Rejection]) -> None:
        super().__init__("no partner store can fulfil this order within the hour")
        self.rejections = rejections


@dataclass(frozen=True, slots=True)
class IntakeResult:
    order: dict[str, Any]
    replayed: bool  # True when an earlier identical request had already created it


def body_hash(body: Mapping[str, Any]) -> str:
    """A fingerprint of the request body that ignores key order and spacing."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def take_order(
    client: redis.Redis,
    request: OrderRequest,
    *,
    fingerprint: str,
    header_key: str | None,
    index: StoreIndex,
    products: Mapping[str, Product],
    travel: TravelModel,
    rules: IntakeRules,
    now: datetime,
) -> IntakeResult:
    """Create the order at the nearest store that can fulfil it, or explain why none can."""
    unknown = sorted(line.sku for line in request.lines if line.sku not in products)
    if unknown:
        raise UnknownSkuError(unknown)
    keys = order_store.idempotency_keys(request.channel, request.external_id, header_key)
    replay = _replay(client, keys, fingerprint)
    if replay is not None:
        return replay
    hits = index.nearby(
        NearbyQuery(
            request.lat,
            request.lng,
            rules.search_radius_m,
            rules.max_candidates,
            partner=True,
        )
    )
    skus = [line.sku for line in request.lines]
    store_ids = [hit.store.id for hit in hits]
    states = order_store.situations_for(client, store_ids, skus, now=now)
    ranking = rank_stores(
        request,
        [
            StoreSituation(h.store, stock, count)
            for h, (stock, count) in zip(hits, states, strict=True)
        ],
        now=now,
        travel=travel,
        vehicle=rules.vehicle,
        pickup_allowance_s=rules.pickup_allowance_s,
    )
    rejections = list(ranking.rejected)
    total = sum(products[line.sku].price_cents * line.qty for line in request.lines)
    for candidate in ranking.feasible:
        passed_over = [r for r in rejections if r.ride_s <= candidate.ride_s]
        order = Order(
            id=f"ord_{secrets.token_hex(8)}",
            request=request,
            store_id=candidate.store.id,
            status="accepted",
            created_at=now,
            promised_by=now + PROMISE,
            total_cents=total,
            match_reason=(
                f"nearest partner store that can fulfil the order: {candidate.ride_s / 60:.0f} "
                f"min ride ({candidate.distance_m:.0f} m), open, every item in stock, capacity left"
            ),
            passed_over=tuple(r.to_dict() for r in sorted(passed_over, key=_by_ride)),
            events=(StatusEvent("accepted", now),),
        )
        placed = order_store.place_order(
            client,
            order,
            capacity_per_hour=candidate.store.capacity_per_hour,
            idempotency=keys,
            body_hash=fingerprint,
        )
        if placed.outcome == "ok":
            return IntakeResult(order.to_record(), replayed=False)
        if placed.outcome == "duplicate":  # an identical request won a race with this one
            replay = _replay(client, keys, fingerprint)
            if replay is not None:
                return replay
        # someone took the last unit or the last slot since the snapshot: try the next store
        reason = "out_of_stock" if placed.outcome == "out_of_stock" else "over_capacity"
        rejections.append(
            Rejection(candidate.store.id, candidate.ride_s, (reason,), placed.missing_skus)
        )
    raise NoStoreCanFulfilError(sorted(rejections, key=_by_ride))


def _replay(client: redis.Redis, keys: list[str], fingerprint: str) -> IntakeResult | None:
    seen = order_store.find_by_idempotency(client, keys)
    if seen is None:
        return None
    order_id, stored_hash = seen
    if stored_hash != fingerprint:
        raise IdempotencyConflictError(order_id)
    order = order_store.get_order(client, order_id)
    if order is None:  # idempotency keys are written with the order, in one script
        msg = f"order {order_id} is missing"
        raise RuntimeError(msg)
    return IntakeResult(order, replayed=True)


def _by_ride(rejection: Rejection) -> tuple[float, str]:
    return rejection.ride_s, rejection.store_id
