"""The headers every answer carries: no sniffing, no framing, no referrer; a content policy on
pages (which lets the map load its tiles from TILE_ORIGIN)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.typing import ResponseReturnValue

_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def secure_headers(response: Any) -> ResponseReturnValue:
    """Add the headers an answer does not set itself."""
    headers = response.headers
    present = set(headers.keys(lower=True))  # one look instead of a scan per header
    for name, value in _ALWAYS:
        if name.lower() not in present:
            headers.add(name, value)
    if response.mimetype == "text/html":
        tiles = current_app.config.get("TILE_ORIGIN", "")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: {tiles}".strip()
            + "; connect-src 'self'; frame-ancestors 'none'",
        )
    return response  # type: ignore[no-any-return]
