"""Rate-limit counters in Redis: one per bucket, caller and fixed window, shared by every web
worker (on the service's own client, so they follow a Sentinel fail-over and live on a Cluster)."""

from __future__ import annotations

from dispatch.storage.client import Client


def count_call(client: Client, bucket: str, caller: str, *, window: int, window_s: int) -> int:
    """Count one call of ``caller`` in ``bucket`` during ``window`` (the window's number since
    the epoch, ``window_s`` long); the count so far, this call included. A counter lives two
    windows, so it is gone soon after its window ends."""
    key = f"ratelimit:{bucket}:{caller}:{window}"
    with client.pipeline(transaction=True) as pipe:  # count with expiry
        pipe.incr(key)
        pipe.expire(key, window_s * 2)
        return int(pipe.execute()[0])
