"""The Flask application factory: one blueprint per audience, extensions attached here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch.road_extracts import street_map, travel_model
from dispatch.settings import Settings
from dispatch.storage.catalogue import CatalogueCache
from dispatch.storage.client import StorageError, redis_client
from dispatch.storage.secret_key import secret_key
from web.cors import public_reads
from web.errors import register_error_handlers
from web.headers import secure_headers
from web.metrics import WebMetrics, instrument
from web.params import refuse_unknown_query


def utc_now() -> datetime:
    return datetime.now(UTC)


class LazyCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus building the signer for a request that brings no
    session cookie (every API call): the same empty session, without the per-request cost."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> Flask:
    """Build the app. ``settings`` default to the environment; tests pass their own."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # "a//b" is a JSON 404, not an HTML redirect to "a/b" (an id holding "/" reads as "//")
    app.url_map.merge_slashes = False
    for rule in app.url_map.iter_rules():  # the static route, added with the app
        rule.merge_slashes = False
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.config["SECRET_KEY"] = secret_key(settings)
    app.session_interface = LazyCookieSessions()
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from web import (
        addresses,
        admin,
        basemap,
        cli,
        courier,
        dispatcher_api,
        dispatcher_page,
        docs,
        ops,
        orders,
        stores,
        tracking,
    )

    client = redis_client(settings)
    layout = ops.LayoutCheck(settings.region_resolution)
    # a mismatch stops the start (ConfigError); with Redis away, /readyz checks it once back
    with contextlib.suppress(StorageError):
        layout.run(client)
    app.extensions["layout"] = layout
    app.extensions["redis"] = client
    app.extensions["clock"] = clock
    app.extensions["travel"] = travel_model(settings)  # matching and re-plans use the same one
    app.extensions["streets"] = street_map(settings)  # the pages' base map, from the same extracts
    app.extensions["catalogue"] = CatalogueCache(
        client, poll_s=settings.catalogue_poll_s, resolution=settings.h3_resolution
    )

    metrics = WebMetrics.create()
    app.extensions["metrics"] = metrics
    register_error_handlers(app, on_redis_error=metrics.redis_errors.inc)
    instrument(app, metrics)
    if settings.map_tile_url:  # the page's content policy lets the map load its tiles
        parts = urlsplit(settings.map_tile_url)
        app.config["TILE_ORIGIN"] = f"{parts.scheme}://{parts.netloc}"
    app.before_request(refuse_unknown_query)
    app.after_request(secure_headers)
    app.after_request(public_reads)
    if settings.trusted_proxies:  # the client's address from the proxies' X-Forwarded-For
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.register_blueprint(stores.bp)
    app.register_blueprint(docs.bp)
    orders.register(app)
    app.register_blueprint(dispatcher_api.bp)
    app.register_blueprint(courier.bp)
    app.register_blueprint(tracking.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(dispatcher_page.bp)
    app.register_blueprint(basemap.bp)
    app.register_blueprint(addresses.bp)
    app.register_blueprint(ops.bp)
    cli.register(app)
    return app
