"""Dispatch regions' leases: one worker holds a region's lease until it runs out."""

from __future__ import annotations

import time

import redis

from dispatch.storage.leases import hold, holder, release


def test_a_lease_is_held_by_one_worker_until_it_runs_out(redis_client: redis.Redis) -> None:
    assert hold(redis_client, "r1", "w1", 0.5)
    assert not hold(redis_client, "r1", "w2", 0.5)
    assert hold(redis_client, "r1", "w1", 0.5)  # renewal by the holder
    release(redis_client, "r1", "w2")  # not theirs to release
    assert holder(redis_client, "r1") == "w1"
    time.sleep(0.7)
    assert hold(redis_client, "r1", "w2", 0.5)
