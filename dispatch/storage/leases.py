"""Dispatch regions' leases in Redis: ``lease:{region}`` names the worker planning the region.

Taken with SET NX and a time to live, renewed by its holder before each plan, so two workers
never plan one region at once, and the regions of a worker that died pass to another as soon as
its leases run out. Keys carry the region as a hash tag, so with Redis Cluster a region's lease
and plan sit in one slot.
"""

from __future__ import annotations

from typing import Any

import redis

from dispatch.storage.replies import decoded

# renew only our own lease: compare the holder and extend in one step
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def lease_key(region: str) -> str:
    return f"lease:{{{region}}}"


def hold(client: redis.Redis, region: str, worker_id: str, ttl_s: float) -> bool:
    """Take the region's lease, or renew it if this worker has it; False if another has it."""
    ttl_ms = max(1, int(ttl_s * 1000))
    if client.set(lease_key(region), worker_id, nx=True, px=ttl_ms):
        return True
    renewed: Any = client.eval(_RENEW, 1, lease_key(region), worker_id, ttl_ms)
    return bool(renewed)


def release(client: redis.Redis, region: str, worker_id: str) -> None:
    client.eval(_RELEASE, 1, lease_key(region), worker_id)


def holder(client: redis.Redis, region: str) -> str | None:
    raw: Any = client.get(lease_key(region))
    return None if raw is None else decoded(raw)
