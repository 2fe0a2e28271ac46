"""gunicorn's settings as scripts/run loads them (``--config python:web.gunicorn_conf``)."""

from __future__ import annotations

from gunicorn.app.base import Application
from gunicorn.config import Config


class _Loaded(Application):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self) -> None:  # only the configuration: no app, no command line
        self.cfg = Config()

    def load(self) -> None:  # pragma: no cover - never served
        raise NotImplementedError


def test_no_control_socket_shared_with_other_servers() -> None:
    """gunicorn 25+ opens one control socket per user ($HOME/.gunicorn/gunicorn.ctl): a second
    service (or a test's gunicorn) on the machine would take it over; the service uses none."""
    loaded = _Loaded()
    loaded.load_config_from_module_name_or_filename("python:web.gunicorn_conf")
    assert loaded.cfg.control_socket_disable is True
    assert loaded.cfg.limit_request_line == 8190  # the module's own settings were read
