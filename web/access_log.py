"""gunicorn's access log without secrets: tokens in a query string or a tracking link are masked.

gunicorn --logger-class web.access_log.RedactingLogger ...     (scripts/run does this)
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

# ?access_token=... (the dispatcher's live feed), ?token=... (the dispatcher page's address)
# and /track/<order>.<signature>
_QUERY_TOKEN = re.compile(r"((?<![\w-])(?:access_)?token=)[^&\s]+")
_TRACKING = re.compile(r"(/track/[^/.\s?]+\.)[0-9a-f]+")


def redact(text: str) -> str:
    return _TRACKING.sub(r"\1…", _QUERY_TOKEN.sub(r"\1…", text))


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        values: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # every atom, environment ones included: a custom format may use any of them
        return {k: redact(v) if isinstance(v, str) else v for k, v in values.items()}
