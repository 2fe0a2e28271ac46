"""The service's figures for Prometheus: counters kept where things happen, gauges read from Redis
at scrape time.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` is set before any worker starts: prometheus_client
then keeps every worker's counters and histograms in files there, and a scrape (whichever worker
answers it) adds them all up. Without it (one process: the dev server, the tests) each app keeps
its figures in its own registry. What Redis holds (open orders, plans, leases) is the same for
every worker, so it is read once per scrape, by :class:`RedisFigures`, not counted per worker.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request
from flask.wrappers import Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from dispatch.orders import FINAL_STATUSES, STATUSES, Order, on_time
from dispatch.overview import order_risks
from dispatch.settings import Settings
from dispatch.storage import orders as stored_orders
from dispatch.storage.client import Client, StorageError, redis_client
from dispatch.storage.leases import holder
from dispatch.storage.plans import region_plans

PREFIX = "nearby_dispatch"
OPEN_STATUSES = tuple(s for s in STATUSES if s not in FINAL_STATUSES)
# Web requests are mostly a few milliseconds; a bulk intake or a re-plan takes seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NEARBY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


@dataclass(frozen=True, slots=True)
class WebMetrics:
    """One app's counters and histograms (each a family of labelled series)."""

    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    orders_accepted: Counter
    orders_refused: Counter
    status_changes: Counter
    deliveries: Counter
    nearby_seconds: Histogram
    redis_errors: Counter

    @classmethod
    def create(cls) -> WebMetrics:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # as under gunicorn: no _created
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                f"{PREFIX}_http_requests", "HTTP requests answered, by route (its URL rule), "
                "method and status", ["route", "method", "status"], registry=registry,
            ),
            request_seconds=Histogram(
                f"{PREFIX}_http_request_duration_seconds", "Time to answer an HTTP request",
                ["route", "method"], buckets=REQUEST_BUCKETS, registry=registry,
            ),
            orders_accepted=Counter(
                f"{PREFIX}_orders_accepted", "Orders accepted (a retry's replay not counted)",
                ["channel", "fulfilment"], registry=registry,
            ),
            orders_refused=Counter(
                f"{PREFIX}_orders_refused", "Orders refused at intake, by the deciding reason",
                ["channel", "fulfilment", "reason"], registry=registry,
            ),
            status_changes=Counter(
                f"{PREFIX}_order_status_changes", "Orders moved to a status",
                ["status"], registry=registry,
            ),
            deliveries=Counter(
                f"{PREFIX}_orders_delivered", "Orders delivered, within their promise or not",
                ["on_time"], registry=registry,
            ),
            nearby_seconds=Histogram(
                f"{PREFIX}_nearby_query_duration_seconds", "Time of the in-memory nearby "
                "query (the index, and the stock check when skus are asked)",
                buckets=NEARBY_BUCKETS, registry=registry,
            ),
            redis_errors=Counter(
                f"{PREFIX}_redis_errors", "Redis commands that failed (a request, a readiness "
                "check or a scrape)", registry=registry,
            ),
        )  # fmt: skip

    def order_accepted(self, order: Order) -> None:
        self.orders_accepted.labels(order.request.channel, order.request.fulfilment).inc()

    def order_refused(self, channel: str, fulfilment: str, reason: str) -> None:
        """``fulfilment``: delivery or pickup, as the refused order asked."""
        self.orders_refused.labels(channel, fulfilment, reason).inc()

    def order_moved(self, order: Order) -> None:
        """Count an order's new status (``order`` as it is after the change)."""
        self.status_changes.labels(order.status).inc()
        if order.status == "delivered":
            self.deliveries.labels("true" if on_time(order) else "false").inc()


def refusal_reason(code: str, rejections: Iterable[Mapping[str, Any]] = ()) -> str:
    """One reason per refused order, so the refusals add up: for "no store can fulfil", the
    first reason that ruled out the nearest partner store (``no_store_in_reach`` when no store
    was within reach at all); else the refusal's own code (``unknown_sku``, ...)."""
    if code != "no_store_can_fulfil":
        return code
    candidates = list(rejections)
    partners = [r for r in candidates if "not_partner" not in r["reasons"]]
    nearest = (partners or candidates)[:1]
    return nearest[0]["reasons"][0] if nearest else "no_store_in_reach"


def instrument(app: Flask, metrics: WebMetrics) -> None:
    """Time and count every request by its URL rule (not its raw path: one series per route)."""

    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(rule, request.method, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:  # a streamed body (the live feed) is timed to its first byte
            elapsed = time.perf_counter() - started
            metrics.request_seconds.labels(rule, request.method).observe(elapsed)
        return response


class RedisFigures(Collector):
    """Gauges of what Redis holds now, read at each scrape: open orders by status, orders late,
    at risk and unassigned, and per dispatch region its plan's age, solve time and version and
    whether a worker holds its lease. With Redis away: ``redis_up`` 0 and nothing else."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Callable[[], datetime],
        on_redis_error: Callable[[], None] = lambda: None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._on_redis_error = on_redis_error

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check at registration: the families depend on what Redis holds

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_redis_up", "1 when the scrape could read Redis")
        try:
            figures = list(self._figures(self._clock()))
        except StorageError:
            self._on_redis_error()
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *figures]

    def _figures(self, now: datetime) -> Iterator[Metric]:
        client = self._client
        orders = [order.to_record() for order in stored_orders.open_orders(client)]
        plans = region_plans(client)
        by_status = GaugeMetricFamily(
            f"{PREFIX}_open_orders",
            "Orders not yet delivered, cancelled or failed",
            labels=["status"],
        )
        counts = Tally(o["status"] for o in orders)
        for status in OPEN_STATUSES:
            by_status.add_metric([status], counts[status])
        yield by_status
        risks = order_risks(orders, [r for p in plans.values() for r in p.routes])
        risk_now: Tally[str] = Tally()
        for order in orders:
            overdue = now > datetime.fromisoformat(order["promised_by"])
            risk_now["late" if overdue else risks[order["id"]]["risk"]] += 1
        for risk, text in (
            ("late", "Open orders past their promise, or planned to arrive after it"),
            ("at_risk", "Open orders planned to arrive less than 10 minutes before the promise"),
            ("unassigned", "Open orders, not yet late, that no plan delivers"),
        ):
            gauge = GaugeMetricFamily(f"{PREFIX}_orders_{risk}", text)
            gauge.add_metric([], risk_now[risk])
            yield gauge
        age = GaugeMetricFamily(f"{PREFIX}_plan_age_seconds", "Time since the region's plan was "
                                "made", labels=["region"])  # fmt: skip
        solve = GaugeMetricFamily(f"{PREFIX}_plan_solve_seconds", "Solver time of the region's "
                                  "plan", labels=["region"])  # fmt: skip
        version = GaugeMetricFamily(f"{PREFIX}_plan_version", "Version of the region's plan "
                                    "(counts every plan written)", labels=["region"])  # fmt: skip
        leased = GaugeMetricFamily(f"{PREFIX}_region_lease_held", "1 while a dispatcher worker "
                                   "holds the region's lease", labels=["region"])  # fmt: skip
        for region, plan in sorted(plans.items()):
            age.add_metric([region], max(0.0, (now - plan.planned_at).total_seconds()))
            solve.add_metric([region], float(plan.solve_s))
            version.add_metric([region], float(plan.version))
            leased.add_metric([region], 0 if holder(client, region) is None else 1)
        yield from (age, solve, version, leased)


class _Registered(Collector):
    """One process's own registry, as a collector of a scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def scrape_registry(
    figures: RedisFigures, *, own: CollectorRegistry | None, multiproc_dir: Any = None
) -> CollectorRegistry:
    """What a scrape shows: every worker's counters (``multiproc_dir``) or this process's own
    (``own``), and the gauges read from Redis."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(figures)  # first: a Redis error it meets is in this scrape's count
    if multiproc_dir is not None:
        MultiProcessCollector(registry, path=str(multiproc_dir))  # type: ignore[no-untyped-call]
    elif own is not None:
        registry.register(_Registered(own))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(registry)


def serve_figures(settings: Settings) -> Any:
    """Serve every worker's figures and Redis's gauges, without a token, on ``metrics_port``
    of ``metrics_host`` (a port the operator keeps to the scrapers' network); the server."""
    figures = RedisFigures(redis_client(settings), clock=lambda: datetime.now(UTC))
    registry = scrape_registry(figures, own=None, multiproc_dir=settings.prometheus_multiproc_dir)
    server, _ = start_http_server(settings.metrics_port, addr=settings.metrics_host,
                                  registry=registry)  # fmt: skip
    return server
