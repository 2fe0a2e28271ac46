"""Dispatch plans in Redis.

Keys: one JSON per dispatch region (``plan:{region}``, see :mod:`dispatch.regions`), the set of
regions with a plan (``plan:regions``), and ``plan:version``, counting every plan written;
readers get the regions' plans merged into one (:class:`~dispatch.plans.CurrentPlan`).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from dispatch.planner import DispatchPlan
from dispatch.plans import CurrentPlan, RegionPlan
from dispatch.regions import ALL
from dispatch.storage import order_keys
from dispatch.storage.pins import pins, set_pin
from dispatch.storage.replies import decoded

PLAN_VERSION_KEY = "plan:version"
PLAN_REGIONS_KEY = "plan:regions"


def plan_key(region: str) -> str:
    return f"plan:{{{region}}}"


def planned_regions(client: redis.Redis) -> set[str]:
    return {decoded(r) for r in client.smembers(PLAN_REGIONS_KEY)}  # type: ignore[union-attr]


def region_plans(client: redis.Redis) -> dict[str, RegionPlan]:
    """Each planned region's latest plan, by region."""
    names = sorted(planned_regions(client))
    raws = order_keys.get_many(client, [plan_key(name) for name in names])
    return {
        name: RegionPlan.from_record(json.loads(raw), region=name)
        for name, raw in zip(names, raws, strict=True)
        if raw
    }


def current_plan(client: redis.Redis) -> CurrentPlan | None:
    """Every region's latest plan, merged; None before the first plan."""
    plans = region_plans(client)
    if not plans:
        return None
    version: Any = client.get(PLAN_VERSION_KEY)
    return CurrentPlan.merged(plans, int(version or 0))


def save_plan(
    client: redis.Redis, plan: DispatchPlan, region: str = ALL, *, planned_by: str | None = None
) -> RegionPlan:
    """Store a region's plan under the next version; the plan as stored.

    The region is listed before its plan is written (readers skip a listed region with no plan),
    so the keys may sit in different Redis Cluster slots.
    """
    version = int(client.incr(PLAN_VERSION_KEY))  # type: ignore[arg-type]
    stored = RegionPlan.of(plan, version, region=region, planned_by=planned_by)
    client.sadd(PLAN_REGIONS_KEY, region)
    _write(client, region, stored)
    return stored


def drop_plan(client: redis.Redis, region: str) -> None:
    """Forget a region's plan (a region with nothing left to plan)."""
    client.delete(plan_key(region))
    client.srem(PLAN_REGIONS_KEY, region)
    client.incr(PLAN_VERSION_KEY)


def release_courier(client: redis.Redis, courier_id: str, *, reason: str) -> list[str]:
    """Take a courier out of the plan in force at once: its pins are dropped and its planned
    orders become unassigned with ``reason`` until the next plan gives them to others; the
    orders released, in id order."""
    released = {o for o, c in pins(client).items() if c == courier_id}
    for order_id in released:
        set_pin(client, order_id, None)
    for region, stored in region_plans(client).items():
        route = next((r for r in stored.routes if r.courier_id == courier_id), None)
        if route is None:
            continue
        released |= {s.order_id for s in route.stops}
        version = int(client.incr(PLAN_VERSION_KEY))  # type: ignore[arg-type]
        _write(client, region, stored.without_courier(courier_id, reason=reason, version=version))
    return sorted(released)


def _write(client: redis.Redis, region: str, stored: RegionPlan) -> None:
    client.set(plan_key(region), json.dumps(stored.to_record(), ensure_ascii=False))
