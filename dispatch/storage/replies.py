"""Redis replies as text, whether or not the client decodes them."""

from __future__ import annotations

from typing import Any


def decoded(value: bytes | str) -> str:
    """A Redis reply as text (replies are bytes unless the client decodes them)."""
    return value.decode() if isinstance(value, bytes) else value


def text_hash(raw: Any) -> dict[str, str]:
    """An HGETALL reply as text keys and values."""
    return {decoded(k): decoded(v) for k, v in raw.items()}
