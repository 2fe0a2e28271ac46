"""gunicorn's settings for this service (``gunicorn -c python:web.gunicorn_conf``, as scripts/run).

gunicorn refuses some requests itself before the app sees them: a request line longer than
``limit_request_line`` (a long URL), an over-long header, a malformed request line. Its answer
is an HTML page; here it is the service's JSON error body instead, so that every client error
is ``{"error": {"code", "message", "details"}}``. Request lines up to gunicorn's largest bound
(8190 bytes, not its default 4094) reach the app, which names what is wrong with them.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util

limit_request_line = 8190  # gunicorn's bound: past it, 414 (as JSON, below)


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn writes for a request it refuses, as the service's JSON error body."""
    code = reason.lower().replace(" ", "_") or "bad_request"
    message = (mesg or reason)[:200]  # a refused request line may be long, and is echoed
    body: dict[str, Any] = {"error": {"code": code, "message": message, "details": {}}}
    payload = json.dumps(body).encode()  # ASCII: whatever bytes the request held
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + payload)


util.write_error = write_json_error  # gunicorn's workers look it up there for every refusal
