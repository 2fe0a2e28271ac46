"""The service's error tree and its JSON error bodies: ``{"error": {code, message, details}}``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from dispatch.errors import ServiceError
from dispatch.storage.client import StorageError

log = logging.getLogger(__name__)


class ApiError(ServiceError):
    """A client error, answered as a 4xx JSON body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def invalid_parameters(problems: dict[str, str]) -> ApiError:
    """A 400 naming every bad field."""
    names = ", ".join(sorted(problems))
    return ApiError(
        400, "invalid_parameter", f"invalid parameter(s): {names}", {"fields": problems}
    )


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def register_error_handlers(
    app: Flask, *, on_redis_error: Callable[[], None] = lambda: None
) -> None:
    """Answer every error as JSON, so that no client ever sees an HTML error page or a 500;
    ``on_redis_error`` counts the requests that Redis failed."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> ResponseReturnValue:
        body = jsonify(error_body(error.code, error.message, error.details))
        return body, error.status, error.headers

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        response = jsonify(error_body(code, error.description or error.name or "error"))
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response, status

    @app.errorhandler(StorageError)
    def _storage_down(error: StorageError) -> ResponseReturnValue:
        log.error("Redis error: %s", error)
        on_redis_error()
        body = error_body("storage_unavailable", "the store catalogue is unreachable; try again")
        return jsonify(body), 503, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error", exc_info=error)
        return jsonify(error_body("internal_error", "unexpected server error")), 500
