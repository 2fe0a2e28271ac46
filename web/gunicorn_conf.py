"""gunicorn's settings and hooks for the service (``gunicorn -c python:web.gunicorn_conf``, as
scripts/run).

The workers count their figures in ``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`web.metrics`); a
worker that exits is marked dead there so that its live gauges stop counting, while its counters
stay in the totals. With ``METRICS_PORT`` the master serves the added-up figures on that port.

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
from prometheus_client import multiprocess

from dispatch.settings import Settings

limit_request_line = 8190  # gunicorn's bound: past it, 414 (as JSON, below)
# gunicorn 25+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): a
# second server on the machine takes it over. The service is run by its process, not gunicornc.
control_socket_disable = True


def when_ready(server: Any) -> None:
    settings = Settings.from_env()
    if settings.metrics_port:
        from web.metrics import serve_figures

        serve_figures(settings)
        server.log.info("figures on http://%s:%s/metrics", settings.metrics_host,
                        settings.metrics_port)  # fmt: skip


def child_exit(server: Any, worker: Any) -> None:
    if Settings.from_env().prometheus_multiproc_dir is not None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


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
