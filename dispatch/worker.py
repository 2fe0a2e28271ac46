"""The dispatcher worker: re-plans every few seconds and whenever new orders arrive.

    python -m dispatch.worker            # started by scripts/run beside the web server

A re-plan that fails or runs out of time leaves the last good plan in force.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from dispatch.planner import DispatchPlan, plan_dispatch
from dispatch.plans import CurrentPlan
from dispatch.regions import ALL, by_region
from dispatch.settings import Settings
from dispatch.storage import order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.client import Client, StorageError, redis_client
from dispatch.storage.leases import hold
from dispatch.storage.order_stream import FROM_NOW, wait_for_orders
from dispatch.storage.plans import current_plan, drop_plan, planned_regions, save_plan
from dispatch.storage.snapshot import snapshot
from geo.stores import Store
from geo.travel import TravelModel

log = logging.getLogger("dispatch.worker")

Planner = Callable[..., DispatchPlan]
PREFIX = "nearby_dispatch"
SOLVE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """The dispatcher worker's own figures, served on its own port (``WORKER_METRICS_PORT``)."""

    registry: CollectorRegistry
    leases_held: Gauge
    replans: Counter
    solve_seconds: Histogram
    last_plan: Gauge
    redis_errors: Counter

    @classmethod
    def create(cls) -> WorkerMetrics:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no _created, like the web
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            leases_held=Gauge(f"{PREFIX}_worker_leases_held", "Dispatch regions whose lease "
                              "this worker held at its last tick", registry=registry),
            replans=Counter(f"{PREFIX}_worker_replans", "Re-plan ticks, by outcome (a failed "
                            "one leaves the previous plans in force)", ["outcome"],
                            registry=registry),
            solve_seconds=Histogram(f"{PREFIX}_worker_solve_seconds", "Solver time of each "
                                    "region's plan", ["region"], buckets=SOLVE_BUCKETS,
                                    registry=registry),
            last_plan=Gauge(f"{PREFIX}_worker_last_plan_timestamp_seconds", "When this worker "
                            "last wrote the region's plan (Unix time)", ["region"],
                            registry=registry),
            redis_errors=Counter(f"{PREFIX}_redis_errors", "Redis commands that failed (the "
                                 "worker's)", registry=registry),
        )  # fmt: skip

    def serve(self, port: int, *, host: str) -> tuple[Any, threading.Thread]:
        """Serve the figures over HTTP on ``host:port`` (a daemon thread); the server."""
        return start_http_server(port, addr=host, registry=self.registry)


def replan_once(
    client: Client,
    *,
    store_of: Callable[[str], Store | None],
    travel: TravelModel,
    now: datetime,
    time_limit_s: float,
    margin_s: int = 0,
    planner: Planner = plan_dispatch,
    resolution: int | None = None,
    may_plan: Callable[[str], bool] = lambda region: True,
    planned_by: str | None = None,
    metrics: WorkerMetrics | None = None,
) -> CurrentPlan | None:
    """Plan the open orders now, region by region, and store the plans; the merged plan.

    ``may_plan`` says whether this process may plan a region now (the worker: it holds the
    region's lease). A region left with nothing to plan has its plan dropped. On any failure the
    previous plans stay in force and the answer is None. ``metrics``: the worker's figures.
    """
    held: set[str] = set()

    def plans(region: str) -> bool:
        allowed = may_plan(region)
        if allowed:
            held.add(region)
        return allowed

    try:
        orders, couriers, problems = snapshot(client, store_of=store_of, now=now)
        in_force = current_plan(client)
        previous = in_force.hint() if in_force is not None else {}
        groups = by_region(orders, couriers, resolution) or {ALL: ([], [])}
        for region in sorted(planned_regions(client) - set(groups)):
            if plans(region):
                drop_plan(client, region)
        for region, (region_orders, region_couriers) in sorted(groups.items()):
            if not plans(region):
                continue
            # from the plan in force: courier's next stops and arrivals do not jump between ticks
            plan = planner(region_orders, region_couriers, now=now, travel=travel,
                           time_limit_s=time_limit_s, margin_s=margin_s,
                           previous=previous)  # fmt: skip
            if not region_couriers and couriers:  # say that couriers are on shift, elsewhere
                reason = (f"no courier on shift in its dispatch region {region} "
                          f"({len(couriers)} on shift in other regions)")  # fmt: skip
                unowned = {o.id: reason for o in region_orders
                           if not (o.picked_up_by or o.pinned_to)}  # fmt: skip
                plan = replace(plan, unassigned={**plan.unassigned, **unowned})
            if problems:
                plan = DispatchPlan(plan.planned_at, plan.routes, {**plan.unassigned, **problems},
                                    plan.solve_s)  # fmt: skip
            save_plan(client, plan, region, planned_by=planned_by)
            if metrics is not None:
                metrics.solve_seconds.labels(region).observe(plan.solve_s)
                metrics.last_plan.labels(region).set(plan.planned_at.timestamp())
        merged = current_plan(client)
    except Exception as exc:  # a bad tick must never take the worker down or erase a good plan
        log.exception("re-plan failed; the previous plan stays in force")
        if metrics is not None:
            metrics.replans.labels("failed").inc()
            if isinstance(exc, StorageError):
                metrics.redis_errors.inc()
        return None
    if metrics is not None:
        metrics.replans.labels("ok").inc()
        metrics.leases_held.set(len(held))
    return merged


def sweep_pickups(client: Client, *, now: datetime, hold_s: float) -> list[str]:
    """Let the pick-up orders nobody collected in time expire (their stock goes back); never
    raises, like a re-plan: a failed sweep is tried again at the next tick."""
    try:
        expired = stored_orders.expire_uncollected(client, now=now, hold=timedelta(seconds=hold_s))
    except Exception:
        log.exception("pick-up sweep failed; tried again at the next tick")
        return []
    if expired:
        log.info("%s pick-up orders expired uncollected: %s", len(expired), ", ".join(expired))
    return expired


def run(
    client: Client,
    *,
    travel: TravelModel,
    interval_s: float,
    time_limit_s: float,
    margin_s: int,
    worker_id: str = "worker",
    resolution: int | None = None,
    lease_s: float = 15.0,
    stop: threading.Event | None = None,
    metrics: WorkerMetrics | None = None,
    pickup_hold_s: float = 7200.0,
) -> None:
    """Re-plan at every new order (read from the order stream) or every ``interval_s``, the
    regions whose lease this worker holds or takes (``lease_s`` to live, renewed each plan);
    each tick also lets pick-up orders ready for over ``pickup_hold_s`` expire."""
    from dispatch.storage.catalogue import CatalogueCache

    catalogue = CatalogueCache(client, poll_s=interval_s)
    last_id = FROM_NOW
    while stop is None or not stop.is_set():
        last_id = wait_for_orders(client, last_id, block_s=interval_s)
        sweep_pickups(client, now=datetime.now(UTC), hold_s=pickup_hold_s)
        plan = replan_once(
            client, store_of=catalogue.index().get, travel=travel,
            now=datetime.now(UTC), time_limit_s=time_limit_s, margin_s=margin_s,
            resolution=resolution, planned_by=worker_id, metrics=metrics,
            may_plan=lambda region: hold(client, region, worker_id, lease_s),
        )  # fmt: skip
        if plan is not None:
            log.info("plan v%s: %s routes, %s unassigned, %.2f s", plan.version,
                     len(plan.routes), len(plan.unassigned), plan.solve_s)  # fmt: skip


def worker_client(settings: Settings) -> Client:
    """A client whose reads outlast the worker's blocking wait on the order stream (redis-py
    gives up on a read after 5 s by default, sooner than a long re-plan interval)."""
    return redis_client(settings, socket_timeout=settings.replan_s + 10)


def main() -> None:
    from dispatch.road_extracts import travel_model

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    if settings.redis_url is None and not settings.redis_sentinels and not settings.redis_cluster:
        raise SystemExit("REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER) must name the Redis")
    try:
        order_keys.check_layout(worker_client(settings), settings.region_resolution)
    except order_keys.LayoutMismatchError as exc:
        raise SystemExit(str(exc)) from exc
    travel = travel_model(settings)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    metrics = WorkerMetrics.create()
    if settings.worker_metrics_port:
        metrics.serve(settings.worker_metrics_port, host=settings.metrics_host)
        log.info("figures on http://%s:%s/metrics", settings.metrics_host,
                 settings.worker_metrics_port)  # fmt: skip
    log.info(
        "dispatcher worker %s: re-plan every %.0f s and on new orders, %.1f s budget, regions %s",
        worker_id, settings.replan_s, settings.plan_time_limit_s,
        f"H3 res {settings.region_resolution}" if settings.region_resolution is not None
        else "all in one",
    )  # fmt: skip
    while True:
        try:
            run(
                worker_client(settings),
                travel=travel,
                interval_s=settings.replan_s,
                time_limit_s=settings.plan_time_limit_s,
                margin_s=settings.plan_margin_s,
                worker_id=worker_id,
                resolution=settings.region_resolution,
                lease_s=settings.lease_s,
                metrics=metrics,
                pickup_hold_s=settings.pickup_hold_s,
            )
        except StorageError as exc:  # Redis away: wait and carry on with a new connection
            metrics.redis_errors.inc()
            log.warning("Redis error (%s); retrying in 2 s", exc)
            time.sleep(2)


if __name__ == "__main__":
    main()
