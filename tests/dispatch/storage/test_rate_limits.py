"""Rate-limit counters: one per bucket, caller and window, gone soon after their window."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.storage.rate_limits import count_call

CALLS = st.lists(st.tuples(st.sampled_from(["public", "courier"]),
                           st.sampled_from(["addr:a", "token:t"]), st.integers(0, 2)),
                 max_size=30)  # fmt: skip


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(CALLS)
def test_each_count_is_the_calls_so_far_of_its_bucket_caller_and_window(
    redis_client: redis.Redis, calls: list[tuple[str, str, int]]
) -> None:
    """Any interleaving of callers, buckets and windows: each call's count is how many calls of
    the same bucket, caller and window came before it, plus one; every counter expires."""
    redis_client.flushall()
    seen: dict[tuple[str, str, int], int] = {}
    for bucket, caller, window in calls:
        seen[(bucket, caller, window)] = seen.get((bucket, caller, window), 0) + 1
        counted = count_call(redis_client, bucket, caller, window=window, window_s=60)
        assert counted == seen[(bucket, caller, window)]
    for key in redis_client.scan_iter(match="ratelimit:*"):
        assert 0 < redis_client.ttl(key) <= 120
