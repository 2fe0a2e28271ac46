"""The Flask application factory: one blueprint per audience, extensions attached here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import redis
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch import order_store
from web.catalogue_cache import CatalogueCache
from web.errors import ConfigError, register_error_handlers
from web.limits import secure_headers
from web.params import refuse_unknown_query
from web.settings import Settings, redis_client, secret_key, travel_model


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    client = redis_client(settings)
    try:
        order_store.check_layout(client, settings.region_resolution)
    except order_store.LayoutMismatchError as exc:
        raise ConfigError(str(exc)) from exc
    except redis.RedisError:  # Redis away: requests answer 503 until it is back
        pass
    app.extensions["redis"] = client
    app.extensions["clock"] = clock
    app.extensions["travel"] = travel_model(settings)  # matching and re-plans use the same one
    app.extensions["catalogue"] = CatalogueCache(
        client, poll_s=settings.catalogue_poll_s, resolution=settings.h3_resolution
    )

    register_error_handlers(app)
    if settings.map_tile_url:  # the page's content policy lets the map load its tiles
        parts = urlsplit(settings.map_tile_url)
        app.config["TILE_ORIGIN"] = f"{parts.scheme}://{parts.netloc}"
    app.before_request(refuse_unknown_query)
    app.after_request(secure_headers)
    if settings.trusted_proxies:  # the client's address from the proxies' X-Forwarded-For
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    from web import admin, cli, courier, dispatch, dispatcher, docs, orders, stores, tracking

    app.register_blueprint(stores.bp)
    app.register_blueprint(docs.bp)
    orders.register(app)
    app.register_blueprint(dispatch.bp)
    app.register_blueprint(courier.bp)
    app.register_blueprint(tracking.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(dispatcher.bp)
    cli.register(app)

    @app.get("/healthz")
    def health() -> ResponseReturnValue:
        client.ping()
        cache = app.extensions["catalogue"]
        index = cache.index()  # refreshes the version first
        return jsonify(status="ok", catalogue_version=cache.version, stores=len(index))

    return app
