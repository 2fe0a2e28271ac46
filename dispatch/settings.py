"""Settings, read once from the environment at start-up: values and paths, nothing built from
them here (the road extracts are read by :mod:`dispatch.road_extracts`, the signing secret kept
by :mod:`dispatch.storage.secret_key`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dispatch.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment, with the defaults a newcomer wants."""

    redis_url: str | None = None  # None: start (or reuse) the project's own redis-server
    host: str = "127.0.0.1"
    port: int = 8000
    var_dir: Path = PROJECT_ROOT / "var"
    local_redis_port: int = 6380
    demo_catalogue: Path = PROJECT_ROOT / "data" / "demo_stores.geojson"
    # what GET /api/v1/addresses searches (scripts/make_demo_addresses.py); None: nothing
    address_data: Path | None = PROJECT_ROOT / "data" / "demo_addresses.csv"
    catalogue_poll_s: float = 1.0
    h3_resolution: int | None = None  # None: chosen from the catalogue's density
    max_content_length: int = 1_000_000
    plan_time_limit_s: float = 2.0  # OR-Tools budget for one dispatch re-plan
    plan_margin_s: int = 900  # plan against promises 15 min early: room for orders to come
    replan_s: float = 5.0  # the dispatcher worker re-plans at least this often
    pickup_hold_s: float = 7200.0  # a ready pick-up order nobody collects expires this much later
    # OSM extracts, one per city: street travel times inside each; none: straight lines
    road_extracts: tuple[Path, ...] = ()
    secret_key: str | None = None  # signs tracking links; None: kept in var_dir/secret_key
    map_tile_url: str | None = None  # e.g. an OSM tile server; None: the map on a plain ground
    # Redis Sentinel instead of REDIS_URL: "host:port,host:port" and the monitored master's name
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "mymaster"
    # Redis Cluster instead: "host:port,host:port", any of its nodes (the client finds the rest)
    redis_cluster: tuple[tuple[str, int], ...] = ()
    region_resolution: int | None = None  # H3 resolution of dispatch regions; None: one region
    lease_s: float = 15.0  # a worker's hold on a region lasts this long unless renewed
    rate_limit_per_minute: int = 600  # per token (or address) on public and courier routes; 0: off
    trusted_proxies: int = 0  # proxies in front that set X-Forwarded-For (0: trust no header)
    # Prometheus figures: GET /metrics takes an admin token or this one (a scraper's own)
    metrics_token: str | None = None
    metrics_port: int = 0  # also serve them open on this port of metrics_host (0: off)
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 0  # the dispatcher worker's own figures (0: off)
    # gunicorn's workers write their figures here and /metrics adds them up (None: one process)
    prometheus_multiproc_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()
        try:
            return replace(
                base,
                redis_url=env.get("REDIS_URL") or None,
                host=env.get("HOST", base.host),
                port=int(env.get("PORT", base.port)),
                var_dir=Path(env.get("VAR_DIR", str(base.var_dir))),
                local_redis_port=int(env.get("LOCAL_REDIS_PORT", base.local_redis_port)),
                demo_catalogue=Path(env.get("DEMO_CATALOGUE", str(base.demo_catalogue))),
                address_data=Path(env["ADDRESS_DATA"])
                if env.get("ADDRESS_DATA")
                else (None if "ADDRESS_DATA" in env else base.address_data),
                catalogue_poll_s=float(env.get("CATALOGUE_POLL_SECONDS", base.catalogue_poll_s)),
                h3_resolution=int(env["H3_RESOLUTION"]) if env.get("H3_RESOLUTION") else None,
                plan_time_limit_s=float(env.get("PLAN_TIME_LIMIT_SECONDS", base.plan_time_limit_s)),
                plan_margin_s=int(env.get("PLAN_MARGIN_SECONDS", base.plan_margin_s)),
                replan_s=float(env.get("REPLAN_SECONDS", base.replan_s)),
                pickup_hold_s=float(env.get("PICKUP_HOLD_SECONDS", base.pickup_hold_s)),
                road_extracts=_paths(env.get("ROAD_EXTRACT", "")),
                secret_key=env.get("SECRET_KEY") or None,
                map_tile_url=env.get("MAP_TILE_URL") or None,
                redis_sentinels=_host_ports(env.get("REDIS_SENTINELS", ""), "REDIS_SENTINELS"),
                redis_sentinel_master=env.get("REDIS_SENTINEL_MASTER", base.redis_sentinel_master),
                redis_cluster=_host_ports(env.get("REDIS_CLUSTER", ""), "REDIS_CLUSTER"),
                region_resolution=int(env["DISPATCH_REGION_RESOLUTION"])
                if env.get("DISPATCH_REGION_RESOLUTION")
                else None,
                lease_s=float(env.get("DISPATCH_LEASE_SECONDS", base.lease_s)),
                rate_limit_per_minute=int(
                    env.get("RATE_LIMIT_PER_MINUTE", base.rate_limit_per_minute)
                ),
                trusted_proxies=int(env.get("TRUSTED_PROXIES", base.trusted_proxies)),
                metrics_token=env.get("METRICS_TOKEN") or None,
                metrics_port=int(env.get("METRICS_PORT") or 0),
                metrics_host=env.get("METRICS_HOST", base.metrics_host),
                worker_metrics_port=int(env.get("WORKER_METRICS_PORT") or 0),
                prometheus_multiproc_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"])
                if env.get("PROMETHEUS_MULTIPROC_DIR")
                else None,
            )
        except ValueError as exc:
            msg = f"bad setting in the environment: {exc}"
            raise ConfigError(msg) from exc


def _paths(text: str) -> tuple[Path, ...]:
    """ "a.osm.bz2,b.osm.bz2" as (Path, ...), blanks skipped."""
    return tuple(Path(part.strip()) for part in text.split(",") if part.strip())


def _host_ports(text: str, name: str) -> tuple[tuple[str, int], ...]:
    """ "a:26379,b:26379" as ((host, port), ...); ValueError on a malformed entry."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            msg = f"{name} entry {item!r} is not host:port"
            raise ValueError(msg)
        pairs.append((host, int(port)))
    return tuple(pairs)
