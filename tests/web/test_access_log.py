"""No token reaches the access log."""

from __future__ import annotations

import types
from datetime import timedelta

from gunicorn.config import Config

from web.access_log import RedactingLogger, redact


def test_tokens_are_masked() -> None:
    line = "GET /api/v1/dispatch/stream?access_token=s3cr3t-t0ken&x=1 HTTP/1.1"
    assert redact(line) == "GET /api/v1/dispatch/stream?access_token=…&x=1 HTTP/1.1"
    page = "GET /dispatcher?token=s3cr3t-t0ken HTTP/1.1"  # the page's address, as the README
    assert redact(page) == "GET /dispatcher?token=… HTTP/1.1"  # and the walkthrough give it
    assert redact("token=s3cr3t") == "token=…"  # the query string atom alone
    assert redact("GET /x?my_token=1&tokens=2") == "GET /x?my_token=1&tokens=2"
    track = "GET /api/v1/track/ord_1a2b.0f9e8d7c6b5a4f3e HTTP/1.1"
    assert "0f9e8d7c6b5a4f3e" not in redact(track) and "ord_1a2b" in redact(track)
    assert (
        redact("GET /api/v1/stores/nearby?lat=1&lng=2") == "GET /api/v1/stores/nearby?lat=1&lng=2"
    )


def test_the_logger_masks_what_it_writes() -> None:
    logger = RedactingLogger(Config())
    request = types.SimpleNamespace(method="GET", path="/api/v1/dispatch/stream",
                                    query="access_token=s3cr3t", version=(1, 1),
                                    uri="/api/v1/dispatch/stream?access_token=s3cr3t",
                                    headers=[])  # fmt: skip
    response = types.SimpleNamespace(status="200 OK", headers=[], sent=10, response_length=10)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": request.uri, "SERVER_PROTOCOL": "HTTP/1.1",
               "QUERY_STRING": request.query, "REMOTE_ADDR": "127.0.0.1"}  # fmt: skip
    atoms = logger.atoms(response, request, environ, timedelta(seconds=0.01))
    assert "s3cr3t" not in repr(atoms)
