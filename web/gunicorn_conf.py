"""gunicorn's hooks for the service (``gunicorn -c python:web.gunicorn_conf``; scripts/run).

The workers count their figures in ``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`web.metrics`); a
worker that exits is marked dead there so that its live gauges stop counting, while its counters
stay in the totals. With ``METRICS_PORT`` the master serves the added-up figures on that port.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import multiprocess

from web.settings import Settings


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
