"""The operators' endpoints: liveness, readiness and the Prometheus figures.

``/healthz`` says the process answers (it touches nothing, so a Redis outage does not get every
worker restarted); ``/readyz`` says this worker can serve: Redis answers, its catalogue index is
built and the key layout was checked. A readiness probe builds the index if a catalogue is there:
a load balancer that waits for readiness before sending requests would otherwise wait for ever.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST

from dispatch.errors import ConfigError
from dispatch.storage import order_keys
from dispatch.storage.client import Client, StorageError, ping
from web.auth import bearer_token, current_principal
from web.errors import ApiError, error_body
from web.metrics import RedisFigures, exposition, scrape_registry
from web.params import checks_its_own_token, refuse_unknown_query
from web.services import catalogue_cache, now, redis_client, web_metrics

bp = Blueprint("ops", __name__)


class LayoutCheck:
    """Whether this process has checked Redis's key layout: at start-up, or (when Redis was away
    then) at the first readiness probe that reaches it."""

    def __init__(self, resolution: int | None) -> None:
        self._resolution = resolution
        self.checked = False

    def run(self, client: Client) -> None:
        """Check now unless done; a mismatch is a ConfigError, Redis away a StorageError."""
        if self.checked:
            return
        try:
            order_keys.check_layout(client, self._resolution)
        except order_keys.LayoutMismatchError as exc:
            raise ConfigError(str(exc)) from exc
        self.checked = True


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    """Alive: the process answers; what it holds in memory, without asking Redis."""
    return jsonify(status="ok", catalogue_version=catalogue_cache().version)


@bp.get("/readyz")
def ready() -> ResponseReturnValue:
    """Ready to serve: each check with its outcome; a 503 naming the failing ones."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        ping(redis_client())
        checks["redis"] = {"ok": True}
    except StorageError as exc:
        web_metrics().redis_errors.inc()
        checks["redis"] = {"ok": False, "message": f"Redis unreachable: {exc}"}
    checks["catalogue"] = _catalogue_check(redis_ok=checks["redis"]["ok"])
    layout: LayoutCheck = current_app.extensions["layout"]
    try:
        layout.run(redis_client())
        checks["layout"] = {"ok": True}
    except StorageError:
        checks["layout"] = {"ok": False, "message": "not checked yet: Redis unreachable"}
    except ConfigError as exc:
        checks["layout"] = {"ok": False, "message": str(exc)}
    failing = [name for name, check in checks.items() if not check["ok"]]
    if failing:
        body = error_body("not_ready", f"not ready: {', '.join(failing)}",
                          {"failing": failing, "checks": checks})  # fmt: skip
        return jsonify(body), 503, {"Retry-After": "5"}
    return jsonify(status="ready", checks=checks)


@bp.get("/metrics")
@checks_its_own_token
def metrics() -> ResponseReturnValue:
    """The figures in the Prometheus text format, for an admin token or METRICS_TOKEN."""
    _check_scraper()
    settings = current_app.config["SETTINGS"]
    counted = web_metrics()
    figures = RedisFigures(redis_client(), clock=now, on_redis_error=counted.redis_errors.inc)
    registry = scrape_registry(
        figures, own=counted.registry, multiproc_dir=settings.prometheus_multiproc_dir
    )
    return current_app.response_class(exposition(registry), mimetype=CONTENT_TYPE_LATEST)


def _catalogue_check(*, redis_ok: bool) -> dict[str, Any]:
    cache = catalogue_cache()
    if redis_ok:
        try:
            cache.index()  # builds the first index, or picks up a newer version
        except StorageError as exc:
            web_metrics().redis_errors.inc()
            return {"ok": False, "message": f"index not built: {exc}"}
    if cache.version is None:
        reason = "no catalogue imported yet" if redis_ok else "Redis unreachable"
        return {"ok": False, "message": f"index not built: {reason}"}
    return {"ok": True, "version": cache.version, "stores": len(cache.index())}


def _check_scraper() -> None:
    """A scraper's METRICS_TOKEN (checked without Redis, so a scrape works while it is down),
    else an admin token: 401 without a token, 403 for another role."""
    wanted = current_app.config["SETTINGS"].metrics_token
    if not (wanted and hmac.compare_digest(bearer_token().encode(), wanted.encode())):
        principal = current_principal()
        if principal.role != "admin":
            raise ApiError(403, "forbidden", f"a {principal.role} token may not read the figures",
                           {"allowed_roles": ["admin"]})  # fmt: skip
    refuse_unknown_query(checked_by_auth=False)  # once the caller is known, as allow() does
