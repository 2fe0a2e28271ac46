"""Redis replies as text, whether or not the client decodes them."""

from __future__ import annotations


def decoded(value: bytes | str) -> str:
    """A Redis reply as text (replies are bytes unless the client decodes them)."""
    return value.decode() if isinstance(value, bytes) else value
